"""Facilities: the registry of vaccination centres, its public directory and bulk import."""
