"""Review work: correction requests and possible duplicates, decided by staff."""
