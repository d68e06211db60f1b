"""Declaring encrypted fields on a model, and the registry the rotation jobs walk.

::

    class Person(Base):
        __tablename__ = "people"
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
        tenant_id: Mapped[uuid.UUID]
        phone = encrypted("phone", index=True)        # adds columns phone_enc, phone_bidx
        notes = encrypted("text", subject="id")      # under the person's own key

``person.phone = "+33..."`` keeps the plaintext on the object until the flush, where
:mod:`vaxport.core.crypto.orm` seals it into ``phone_enc`` (and ``phone_bidx``). Reading
``person.phone`` decrypts lazily. The database only ever sees ciphertext: the column types
refuse anything that is not a well-formed ciphertext / blind index.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, overload

from sqlalchemy import LargeBinary, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

from vaxport.core.crypto.blind import BIDX_LEN, INDEX_KINDS
from vaxport.core.crypto.envelope import VALUE_KINDS, looks_like_ciphertext
from vaxport.core.crypto.errors import CryptoMisuseError

T = TypeVar("T")
PLAIN_CACHE = "_vaxport_plain"
KEYS_SLOT = "_vaxport_keys"


class Pending:
    """A plaintext set on an object, waiting for the flush to encrypt it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:  # never show the value (logs, tracebacks)
        return "<pending encryption>"


class Ciphertext(TypeDecorator[bytes]):
    """A column holding only vaxport ciphertexts; anything else is refused at bind time."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, Pending):
            raise CryptoMisuseError(
                "a plaintext reached the database unencrypted: encrypted fields are sealed "
                "by the ORM flush; do not copy them into Core statements"
            )
        if not looks_like_ciphertext(value):
            raise CryptoMisuseError("refusing to store a non-ciphertext in an encrypted column")
        return bytes(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes(value)


class BlindIndexBytes(TypeDecorator[bytes]):
    """A column holding only blind indexes (34 bytes); plaintext comparisons fail loudly."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, bytes | bytearray) or len(value) != BIDX_LEN:
            raise CryptoMisuseError(
                "a blind index column takes blind_index(...) values, never plaintext"
            )
        return bytes(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes(value)


@dataclass(eq=False)
class ModelSpec:
    """The encrypted fields of one mapped class (mapper lookups memoised: hot path)."""

    cls: type
    fields: dict[str, EncryptedField[Any]] = field(default_factory=dict)
    _columns: dict[str, Any] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def table(self) -> Any:
        return inspect(self.cls).local_table

    def column(self, attr: str) -> Any:
        """The table column behind a mapped attribute."""
        col = self._columns.get(attr)
        if col is None:
            col = self._columns[attr] = inspect(self.cls).get_property(attr).columns[0]
        return col

    @functools.cached_property
    def pk_attr(self) -> str:
        mapper: Any = inspect(self.cls)
        if len(mapper.primary_key) != 1:
            raise CryptoMisuseError(
                f"{self.cls.__name__}: encrypted models need a single-column key"
            )
        return str(mapper.get_property_by_column(mapper.primary_key[0]).key)


_registry: dict[type, ModelSpec] = {}


def registered_models() -> list[ModelSpec]:
    """Every model with encrypted fields (for rotation, re-encryption and erasure)."""
    return list(_registry.values())


def spec_for(cls: type) -> ModelSpec | None:
    """The encrypted-field spec of ``cls`` (or of a mapped superclass)."""
    spec = _registry.get(cls)
    if spec is None:
        for base in cls.__mro__[1:]:
            spec = _registry.get(base)
            if spec is not None:
                _registry[cls] = spec
                break
    return spec


def spec_for_table(table: object) -> ModelSpec | None:
    """The spec of the registered model mapped to ``table`` (Core statements)."""
    # ORM statements carry an annotated copy of the Table: match on the name.
    name, schema = getattr(table, "name", None), getattr(table, "schema", None)
    for spec in _registry.values():
        if spec.table.name == name and spec.table.schema == schema:
            return spec
    return None


class EncryptedField(Generic[T]):
    """A personal field stored as AES-256-GCM ciphertext (see module docstring)."""

    def __init__(
        self,
        kind: str,
        *,
        index: bool = False,
        subject: str | None = None,
        nullable: bool = True,
    ) -> None:
        if kind not in VALUE_KINDS:
            raise CryptoMisuseError(f"unknown encrypted field kind {kind!r}")
        if index and kind not in INDEX_KINDS:
            raise CryptoMisuseError(f"no blind index for {kind!r} fields")
        self.kind = kind
        self.index = index
        self.subject = subject
        self.nullable = nullable
        self.name = ""
        self.enc_attr = ""
        self.bidx_attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.enc_attr = f"{name}_enc"
        self.bidx_attr = f"{name}_bidx" if self.index else ""
        # Declarative maps the class after __set_name__, so these become real columns.
        if self.enc_attr not in owner.__dict__:
            setattr(owner, self.enc_attr, mapped_column(Ciphertext(), nullable=self.nullable))
        if self.index and self.bidx_attr not in owner.__dict__:
            setattr(owner, self.bidx_attr, mapped_column(BlindIndexBytes(), nullable=True))
        spec = _registry.setdefault(owner, ModelSpec(owner))
        spec.fields[name] = self

    @overload
    def __get__(self, obj: None, owner: type) -> EncryptedField[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T | None: ...
    def __get__(self, obj: object | None, owner: type) -> EncryptedField[T] | T | None:
        if obj is None:
            return self
        from vaxport.core.crypto.orm_read import read_field

        value: T | None = read_field(obj, self)
        return value

    def __set__(self, obj: object, value: T | None) -> None:
        if value is None and not self.nullable:
            raise CryptoMisuseError(f"{type(obj).__name__}.{self.name} may not be None")
        if value is not None:
            from vaxport.core.crypto.envelope import encode_value

            encode_value(self.kind, value)  # type check now, not at flush time
        setattr(obj, self.enc_attr, Pending(value))
        obj.__dict__.setdefault(PLAIN_CACHE, {}).pop(self.name, None)

    def __repr__(self) -> str:
        return f"<encrypted {self.kind} field {self.name}>"


@overload
def encrypted(
    kind: Literal["text", "phone", "email", "id_number"],
    *,
    index: bool = ...,
    subject: str | None = ...,
    nullable: bool = ...,
) -> EncryptedField[str]: ...
@overload
def encrypted(
    kind: Literal["date"], *, index: bool = ..., subject: str | None = ..., nullable: bool = ...
) -> EncryptedField[dt.date]: ...
@overload
def encrypted(
    kind: Literal["json"], *, index: bool = ..., subject: str | None = ..., nullable: bool = ...
) -> EncryptedField[Any]: ...
def encrypted(
    kind: str, *, index: bool = False, subject: str | None = None, nullable: bool = True
) -> EncryptedField[Any]:
    """Declare an encrypted personal field (optionally blind-indexed, or under a subject key).

    ``subject`` names the column holding the id of the person whose own key encrypts the
    field (crypto-shredding: :func:`vaxport.core.crypto.erase_subject`).
    """
    return EncryptedField(kind, index=index, subject=subject, nullable=nullable)


def subject_uuid(obj: object, spec_field: EncryptedField[Any]) -> uuid.UUID:
    """The subject id of a subject-keyed field on ``obj`` (refuses a missing one)."""
    assert spec_field.subject is not None
    sid = getattr(obj, spec_field.subject)
    if not isinstance(sid, uuid.UUID):
        raise CryptoMisuseError(
            f"{type(obj).__name__}.{spec_field.subject} must be set (a UUID) before "
            f"{spec_field.name} can be encrypted under the subject's key"
        )
    return sid
