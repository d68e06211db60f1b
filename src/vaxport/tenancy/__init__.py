"""Country configuration: regions, ID types, vaccine catalogue, schedules, rules."""
