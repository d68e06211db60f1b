"""SMART Scheduling Links shapes as JSON Schema, for checking our feed.

Written from the tables of the specification (smart-on-fhir/smart-scheduling-links,
``specification.md``: "Manifest File", "Location File", "Schedule File", "Slot File",
"Timestamps"); ``../shared/testdata`` holds no schema or example of it. Each schema says
what the specification requires and the form it gives optional parts when present.
"""

from __future__ import annotations

from typing import Any

# "YYYY-MM-DDThh:mm:ss.sss+zz:zz": to the second at least, with an offset (Z for UTC).
INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
# "up to 64 alphanumeric characters and may include - and ."
ID = r"^[A-Za-z0-9.-]{1,64}$"
EXT = "http://fhir-registry.smarthealthit.org/StructureDefinition/"

_URL = {"type": "string", "pattern": r"^https?://"}
_ID = {"type": "string", "pattern": ID}

MANIFEST: dict[str, Any] = {
    "type": "object",
    "required": ["transactionTime", "request", "output"],
    "properties": {
        "transactionTime": {"type": "string", "pattern": INSTANT},
        "request": {"type": "string", "pattern": r"^https?://.*\$bulk-publish$"},
        "output": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "url"],
                "properties": {
                    "type": {"enum": ["Location", "Schedule", "Slot"]},
                    "url": _URL,
                    "extension": {
                        "type": "object",
                        "properties": {"state": {"type": "array", "items": {"type": "string"}}},
                    },
                },
            },
        },
        "error": {"type": "array"},
    },
}

LOCATION: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "id", "name", "telecom", "address", "identifier"],
    "properties": {
        "resourceType": {"const": "Location"},
        "id": _ID,
        "name": {"type": "string", "minLength": 1},
        "telecom": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["system", "value"],
                "properties": {"system": {"enum": ["phone", "url"]}, "value": {"type": "string"}},
            },
        },
        "address": {
            "type": "object",
            "properties": {
                "line": {"type": "array", "items": {"type": "string"}},
                "city": {"type": "string"},
                "state": {"type": "string"},
                "postalCode": {"type": "string"},
                "district": {"type": "string"},
            },
        },
        "description": {"type": "string"},
        "position": {
            "type": "object",
            "required": ["latitude", "longitude"],
            "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
        },
        "identifier": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["system", "value"],
                "properties": {"system": {"type": "string"}, "value": {"type": "string"}},
            },
        },
    },
}

_CODING = {
    "type": "object",
    "required": ["system", "code"],
    "properties": {
        "system": {"type": "string"},
        "code": {"type": "string"},
        "display": {"type": "string"},
    },
}

SCHEDULE: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "id", "actor", "serviceType"],
    "properties": {
        "resourceType": {"const": "Schedule"},
        "id": _ID,
        "actor": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["reference"],
                "properties": {"reference": {"type": "string", "pattern": r"^Location/"}},
            },
        },
        "serviceType": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["coding"],
                "properties": {"coding": {"type": "array", "minItems": 1, "items": _CODING}},
            },
        },
        "extension": {
            "type": "array",
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["url", "valueCoding"],
                        "properties": {
                            "url": {"const": EXT + "vaccine-product"},
                            "valueCoding": {
                                **_CODING,
                                "properties": {
                                    **_CODING["properties"],
                                    "system": {"const": "http://hl7.org/fhir/sid/cvx"},
                                },
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["url", "valueInteger"],
                        "properties": {
                            "url": {"const": EXT + "vaccine-dose"},
                            "valueInteger": {"type": "integer", "minimum": 1},
                        },
                    },
                ]
            },
        },
    },
}

SLOT: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "id", "schedule", "status", "start", "end"],
    "properties": {
        "resourceType": {"const": "Slot"},
        "id": _ID,
        "schedule": {
            "type": "object",
            "required": ["reference"],
            "properties": {"reference": {"type": "string", "pattern": r"^Schedule/"}},
        },
        "status": {"enum": ["free", "busy"]},
        "start": {"type": "string", "pattern": INSTANT},
        "end": {"type": "string", "pattern": INSTANT},
        "extension": {
            "type": "array",
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["url", "valueUrl"],
                        "properties": {
                            "url": {"const": EXT + "booking-deep-link"},
                            "valueUrl": _URL,
                        },
                    },
                    {
                        "type": "object",
                        "required": ["url", "valueString"],
                        "properties": {"url": {"const": EXT + "booking-phone"}},
                    },
                    {
                        "type": "object",
                        "required": ["url", "valueInteger"],
                        "properties": {
                            "url": {"const": EXT + "slot-capacity"},
                            "valueInteger": {"type": "integer", "minimum": 0},
                        },
                    },
                ]
            },
        },
    },
}

BY_TYPE = {"Location": LOCATION, "Schedule": SCHEDULE, "Slot": SLOT}
