"""Names in the machine-readable form of ICAO Doc 9303 part 3 (the DCC's ``fnt``/``gnt``).

Upper-case A-Z, with ``<`` for spaces and hyphens. Latin letters follow the ICAO table's
recommended transliterations (``Ä`` -> ``AE``, ``ß`` -> ``SS``, ``Ø`` -> ``OE``) or lose
their diacritics (``Č`` -> ``C``); Cyrillic and Greek follow the ICAO tables too.
Apostrophes and dots are dropped (``d'Červenková`` -> ``DCERVENKOVA``). Scripts without
an ICAO table (Arabic, Devanagari...) are not guessed at: give the Latin form from the
person's travel document instead (``Holder.*_latin``).
"""

# ruff: noqa: RUF001 - the tables map Cyrillic and Greek letters that look like Latin ones
from __future__ import annotations

import unicodedata

MAX_LENGTH = 80  # the DCC schema's maxLength of fnt/gnt

_LATIN = {
    "Ä": "AE", "Å": "AA", "Æ": "AE", "Ö": "OE", "Ø": "OE", "Ü": "UE", "ß": "SS", "ẞ": "SS",
    "Þ": "TH", "Œ": "OE", "Ĳ": "IJ", "Ð": "D", "Đ": "D", "Ħ": "H", "Ł": "L", "Ŀ": "L",
    "Ŧ": "T", "Ŋ": "N", "ı": "I",
}  # fmt: skip
_CYRILLIC = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Ґ": "G", "Д": "D", "Ђ": "D", "Ѓ": "G",
    "Е": "E", "Ё": "E", "Є": "IE", "Ж": "ZH", "З": "Z", "Ѕ": "DZ", "И": "I", "І": "I",
    "Ї": "I", "Й": "I", "Ј": "J", "К": "K", "Ќ": "KJ", "Л": "L", "Љ": "LJ", "М": "M",
    "Н": "N", "Њ": "NJ", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T", "Ћ": "C",
    "У": "U", "Ў": "U", "Ф": "F", "Х": "KH", "Ц": "TS", "Ч": "CH", "Џ": "DZ", "Ш": "SH",
    "Щ": "SHCH", "Ъ": "IE", "Ы": "Y", "Ь": "", "Э": "E", "Ю": "IU", "Я": "IA",
}  # fmt: skip
_GREEK = {
    "Α": "A", "Β": "V", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "I", "Θ": "TH",
    "Ι": "I", "Κ": "K", "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "X", "Ο": "O", "Π": "P",
    "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y", "Φ": "F", "Χ": "CH", "Ψ": "PS", "Ω": "O",
}  # fmt: skip
_TABLE = {**_LATIN, **_CYRILLIC, **_GREEK}
_FILLERS = {" ", "-", "\u2010", "\u2011", ",", "\t"}


def _letter(ch: str) -> str:
    mapped = _TABLE.get(ch)
    if mapped is not None:
        return mapped
    # A letter with diacritics: its base letter (NFKD puts the marks after it).
    base = unicodedata.normalize("NFKD", ch)
    mapped = _TABLE.get(base[:1])
    if mapped is not None:
        return mapped
    return "".join(c for c in base if "A" <= c <= "Z")


def icao(name: str | None) -> str:
    """``name`` in ICAO 9303 form (may be empty when nothing in it can be transliterated)."""
    if not name:
        return ""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", name.strip()).upper():
        if ch in _FILLERS:
            if out and out[-1] != "<":
                out.append("<")
        else:
            out.append(_letter(ch))
    return "".join(out).strip("<")[:MAX_LENGTH].rstrip("<")
