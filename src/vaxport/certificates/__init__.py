"""Certificates: signed EU DCC and SMART Health Card credentials of a person's doses, PDF
with QR codes, one verifier for every format (ours and other issuers'), trust lists and
revocation.

Other contexts and the pages use it through :mod:`vaxport.certificates.service` only.
"""
