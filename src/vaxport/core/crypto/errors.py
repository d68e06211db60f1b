"""Errors of the field-encryption layer.

Every failure is loud and specific: a value that cannot be authenticated is never
returned as garbage, and a value that would be stored unencrypted is refused.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by :mod:`vaxport.core.crypto`."""


class DecryptionError(CryptoError):
    """A ciphertext failed authentication: wrong row/column/tenant, tampered or wrong key."""


class KeyNotFoundError(CryptoError):
    """A ciphertext names a key version this database does not hold."""


class SubjectKeyDestroyedError(DecryptionError):
    """The value belongs to a subject whose key was destroyed (crypto-shredded)."""


class KeyProviderError(CryptoError):
    """The key-encryption-key provider refused or failed (file, KMS, Vault)."""


class KeyFileError(KeyProviderError):
    """The local key file is missing, malformed or unsafely readable."""


class CryptoMisuseError(CryptoError):
    """Code tried something that would store plaintext or break ciphertext binding."""


class InvalidFieldValueError(CryptoError, ValueError):
    """A value cannot be normalised for its blind index (e.g. not a phone number)."""


class RetireRefusedError(CryptoError):
    """Old key versions are still in use (rows remain) or were in use too recently."""
