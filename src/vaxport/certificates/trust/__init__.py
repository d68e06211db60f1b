"""Trust lists: foreign DSCs and SMART Health Cards issuer keys a tenant's national admin
imports (files, or an issuer directory the operator fetches) or withdraws
(``withdraw.py``), their revocation entries, and the signed bundle
``GET /api/v1/trust-list`` exports for offline verifiers (``bundle.py``; its key and its
rotation: ``signing_key.py``).
"""
