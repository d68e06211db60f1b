"""Scheduling: the schedule engine (who may get which dose, when); sessions, slots and
appointments to come."""
