"""A DCC's content checked against the schema of its ``ver`` and the value sets.

The schemas and value sets ship in ``data/`` (see its README). A certificate must hold
exactly one entry (one vaccination, test or recovery), as the DCC rules require whatever
an older schema allows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

_DATA = resources.files("vaxport.certificates.verify") / "data"
# ver (major.minor.patch) -> the shipped schema that governs it.
_SCHEMAS = {
    (1, 0): "1.0.0/DGC.combined-schema.json",
    (1, 1): "1.2.1/DCC.combined-schema.json",
    (1, 2): "1.2.1/DCC.combined-schema.json",
}
_SCHEMA_130 = "1.3.0/DCC.combined-schema.json"
_SCHEMA_133 = "1.3.3/DCC.combined-schema.json"
_VER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# Field -> value set, per entry kind (the test-manufacturer set is an example only).
_VALUE_SETS = {
    "v": {
        "tg": "disease-agent-targeted",
        "vp": "vaccine-prophylaxis",
        "mp": "vaccine-medicinal-product",
        "ma": "vaccine-mah-manf",
        "co": "country-2-codes",
    },
    "t": {
        "tg": "disease-agent-targeted",
        "tt": "test-type",
        "tr": "test-result",
        "co": "country-2-codes",
    },
    "r": {"tg": "disease-agent-targeted", "co": "country-2-codes"},
}


def _schema_path(ver: str) -> str | None:
    match = _VER.match(ver)
    if not match:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    if major != 1:
        return None
    if minor == 3:
        return _SCHEMA_133 if patch >= 3 else _SCHEMA_130
    return _SCHEMAS.get((major, minor))


@cache
def _validator(path: str) -> Draft202012Validator:
    schema = json.loads((_DATA / "dcc-schema" / path).read_text("utf-8"))
    return Draft202012Validator(schema)


@cache
def value_set(name: str) -> frozenset[str]:
    """The codes of one shipped value set."""
    data = json.loads((_DATA / "dcc-valuesets" / f"{name}.json").read_text("utf-8"))
    return frozenset(data["valueSetValues"])


@cache
def display(name: str, code: str) -> str | None:
    """A code's display text in a value set, if it has one."""
    data = json.loads((_DATA / "dcc-valuesets" / f"{name}.json").read_text("utf-8"))
    entry = data["valueSetValues"].get(code)
    return entry.get("display") if isinstance(entry, dict) else None


def as_json(value: Any) -> Any:
    """CBOR values as JSON would carry them (dates as ISO text); bytes are kept (invalid)."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def problem(hcert: dict[Any, Any]) -> str | None:
    """Why ``hcert`` is not a valid DCC, or ``None``."""
    if any(not isinstance(k, str) for k in hcert):
        return "the certificate's keys are not text"
    ver = hcert.get("ver")
    path = _schema_path(ver) if isinstance(ver, str) else None
    if path is None:
        return f"unsupported DCC schema version {ver!r}"
    doc = as_json(hcert)
    error = next(iter(_validator(path).iter_errors(doc)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"not a valid DCC {ver}: {where}: {error.message[:200]}"
    groups = [k for k in ("v", "t", "r") if k in doc]
    if len(groups) != 1 or not isinstance(doc[groups[0]], list) or len(doc[groups[0]]) != 1:
        return "a DCC holds exactly one vaccination, test or recovery entry"
    entry = doc[groups[0]][0]
    for field, name in _VALUE_SETS[groups[0]].items():
        code = entry.get(field) if isinstance(entry, dict) else None
        if code is not None and code not in value_set(name):
            return f"{groups[0]}/0/{field}: {code!r} is not in the value set {name}"
    return None
