"""Envelope encryption of personal data: field ciphertexts, blind indexes, key rotation.

Public surface for the contexts:

* :func:`encrypted` — declare a personal field on a model (ciphertext + blind index).
* :func:`blind_match` / :func:`blind_index` — equality lookups by a blind index.
* :func:`erase_subject` — crypto-shred one person (fields under their own key).
* :func:`seal_new` — seal a new object's fields now, for rows inserted by Core statements.
* :func:`seal_values` — a new row's columns from plain values, sealed (no ORM object).
* :class:`KeySession` — what sealing needs of a transaction (``uow.run_sync`` gives one).
* :func:`configure_keyring` — install the keyring the settings describe (app start-up).

See ``docs/keys.md`` for operators.
"""

from __future__ import annotations

from vaxport.core.crypto import orm as _orm  # noqa: F401 - installs the ORM hooks
from vaxport.core.crypto.blind import blind_index, blind_match, set_phone_region_resolver
from vaxport.core.crypto.direct import seal_values
from vaxport.core.crypto.errors import (
    CryptoError,
    CryptoMisuseError,
    DecryptionError,
    InvalidFieldValueError,
    KeyFileError,
    KeyNotFoundError,
    KeyProviderError,
    RetireRefusedError,
    SubjectKeyDestroyedError,
)
from vaxport.core.crypto.fields import EncryptedField, encrypted, registered_models
from vaxport.core.crypto.keyring import KeySession
from vaxport.core.crypto.models import DataKey, SubjectKey
from vaxport.core.crypto.orm import seal_new
from vaxport.core.crypto.orm_read import open_column
from vaxport.core.crypto.state import configure_keyring, get_keyring, set_keyring
from vaxport.core.crypto.subjects import erase_subject

__all__ = [
    "CryptoError",
    "CryptoMisuseError",
    "DataKey",
    "DecryptionError",
    "EncryptedField",
    "InvalidFieldValueError",
    "KeyFileError",
    "KeyNotFoundError",
    "KeyProviderError",
    "KeySession",
    "RetireRefusedError",
    "SubjectKey",
    "SubjectKeyDestroyedError",
    "blind_index",
    "blind_match",
    "configure_keyring",
    "encrypted",
    "erase_subject",
    "get_keyring",
    "open_column",
    "registered_models",
    "seal_new",
    "seal_values",
    "set_keyring",
    "set_phone_region_resolver",
]
