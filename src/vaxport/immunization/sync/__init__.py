"""Offline batch sync: a vaccinator's device uploads the walk-ins and doses it recorded."""
