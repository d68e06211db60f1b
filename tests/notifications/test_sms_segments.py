"""GSM-7 / UCS-2 detection and SMS part counting: known vectors and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxport.notifications.sms import GSM7_BASIC, GSM7_EXTENSION, first_non_gsm7, sms_segments

EMOJI = "\U0001f600"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 1, 0)),
        ("a" * 160, ("GSM-7", 1, 160)),
        ("a" * 161, ("GSM-7", 2, 161)),
        ("a" * 306, ("GSM-7", 2, 306)),
        ("a" * 307, ("GSM-7", 3, 307)),
        ("€", ("GSM-7", 1, 2)),
        ("€" * 80, ("GSM-7", 1, 160)),
        ("€" * 81, ("GSM-7", 2, 162)),
        ("a" * 159 + "[", ("GSM-7", 2, 161)),
        ("Votre code est 1234. Déjà reçu?", ("UCS-2", 1, 31)),  # 'ç' is not GSM-7
        ("Votre code est 1234. Déjà vu?", ("GSM-7", 1, 29)),
        ("a" * 10 + EMOJI, ("UCS-2", 1, 12)),
        ("a" * 70, ("GSM-7", 1, 70)),
        ("ó" * 70, ("UCS-2", 1, 70)),
        ("ó" * 71, ("UCS-2", 2, 71)),
        ("ó" * 134, ("UCS-2", 2, 134)),
        ("ó" * 135, ("UCS-2", 3, 135)),
        (EMOJI * 35, ("UCS-2", 1, 70)),
        (EMOJI * 36, ("UCS-2", 2, 72)),
        # Escape pairs and surrogate pairs are never split across parts, which can
        # cost a part more than plain division (306 units but 3 parts here).
        ("a" * 152 + "€" + "a" * 150 + "€", ("GSM-7", 3, 306)),
        ("ó" * 66 + EMOJI + "ó" * 66, ("UCS-2", 3, 134)),
    ],
)
def test_known_vectors(text: str, expected: tuple[str, int, int]) -> None:
    assert tuple(sms_segments(text)) == expected


def test_first_non_gsm7_names_the_culprit() -> None:
    assert first_non_gsm7("Su código") == "ó"
    assert first_non_gsm7("plain {text} €") is None


gsm_chars = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))
any_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=400)


@given(st.text(alphabet=gsm_chars, max_size=500))
def test_gsm_text_counts_extension_characters_twice(text: str) -> None:
    enc, segments, units = sms_segments(text)
    assert enc == "GSM-7"
    assert units == len(text) + sum(c in GSM7_EXTENSION for c in text)
    assert segments >= 1


@given(any_text)
def test_parts_hold_all_units_and_waste_at_most_one_per_part(text: str) -> None:
    enc, segments, units = sms_segments(text)
    single, part = (160, 153) if enc == "GSM-7" else (70, 67)
    if units <= single:
        assert segments == 1
    else:
        assert segments >= math.ceil(units / part)
        # Only a 2-unit character that does not fit is pushed: <= 1 unit lost per part.
        assert segments <= math.ceil(units / (part - 1))


@given(any_text)
def test_ucs2_units_count_astral_characters_as_surrogate_pairs(text: str) -> None:
    enc, _, units = sms_segments(text)
    if enc == "UCS-2":
        assert units == len(text.encode("utf-16-le")) // 2


@given(any_text, st.characters(exclude_categories=("Cs",)))
def test_appending_never_reduces_the_part_count(text: str, extra: str) -> None:
    assert sms_segments(text + extra).segments >= sms_segments(text).segments


@given(st.text(alphabet=gsm_chars, min_size=1, max_size=300))
def test_one_non_gsm_character_switches_the_whole_text_to_ucs2(text: str) -> None:
    assert sms_segments(text + EMOJI).encoding == "UCS-2"
