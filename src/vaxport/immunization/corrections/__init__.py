"""Corrections and voids of dose records: who may (``authority``), correcting
(``correcting``), voiding and the two-person void (``voiding``), the history kept
(``history``), the certificates port (``ports``) and the routes (``api``)."""
