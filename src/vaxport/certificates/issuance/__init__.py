"""Issuance: a person's certificates recomputed from their dose records (outbox events),
stored encrypted under the person's key, superseded, revoked and reissued.

Used by the rest of the app through :mod:`vaxport.certificates.service` only.
"""
