"""Immunization: dose records at the point of care, vaccine lots, adverse events
following immunization, offline batch sync, corrections and voids, FHIR R4 reads.

Other contexts and the pages use it through :mod:`vaxport.immunization.service` only.
"""
