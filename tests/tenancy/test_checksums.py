"""Luhn and Verhoeff: published vectors and the error-detection properties they promise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxport.tenancy.checksums import (
    luhn_check_digit,
    luhn_is_valid,
    verhoeff_check_digit,
    verhoeff_is_valid,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=30)


@pytest.mark.parametrize(
    "number",
    [
        "79927398713",  # the textbook example
        "4111111111111111",  # Visa test card
        "5555555555554444",  # Mastercard test card
        "378282246310005",  # Amex test card
        "046454286",  # Canadian SIN example
        "8112189876",  # Swedish personnummer test number 811218-9876
    ],
)
def test_luhn_accepts_published_valid_numbers(number: str) -> None:
    assert luhn_is_valid(number)
    assert luhn_check_digit(number[:-1]) == number[-1]


@pytest.mark.parametrize("number", ["79927398710", "4111111111111112", "1234567812345678"])
def test_luhn_refuses_published_invalid_numbers(number: str) -> None:
    assert not luhn_is_valid(number)


@pytest.mark.parametrize(
    ("payload", "check"),
    # Wikipedia and Rosetta Code vectors.
    [("236", "3"), ("12345", "1"), ("142857", "0"), ("123456789012", "0")],
)
def test_verhoeff_check_digits_match_published_vectors(payload: str, check: str) -> None:
    assert verhoeff_check_digit(payload) == check
    assert verhoeff_is_valid(payload + check)


@pytest.mark.parametrize("value", ["", "12a4", "\uff11\uff12\uff13", "٣٣", "12 34", "-1"])
def test_non_digit_input_is_invalid_not_an_exception(value: str) -> None:
    assert not luhn_is_valid(value)
    assert not verhoeff_is_valid(value)
    with pytest.raises(ValueError, match="digits"):
        luhn_check_digit(value)
    with pytest.raises(ValueError, match="digits"):
        verhoeff_check_digit(value)


@given(digits)
def test_appending_the_check_digit_always_validates(payload: str) -> None:
    assert luhn_is_valid(payload + luhn_check_digit(payload))
    assert verhoeff_is_valid(payload + verhoeff_check_digit(payload))


@given(digits, st.data())
def test_every_single_digit_error_is_detected(payload: str, data: st.DataObject) -> None:
    for check_digit, is_valid in (
        (luhn_check_digit, luhn_is_valid),
        (verhoeff_check_digit, verhoeff_is_valid),
    ):
        number = payload + check_digit(payload)
        i = data.draw(st.integers(0, len(number) - 1))
        wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[i]]))
        assert not is_valid(number[:i] + wrong + number[i + 1 :])


@given(st.text(alphabet="0123456789", min_size=2, max_size=30), st.data())
def test_verhoeff_detects_every_adjacent_transposition(payload: str, data: st.DataObject) -> None:
    number = payload + verhoeff_check_digit(payload)
    i = data.draw(st.integers(0, len(number) - 2))
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    if swapped != number:
        assert not verhoeff_is_valid(swapped)


@given(st.text(alphabet="0123456789", min_size=2, max_size=30), st.data())
def test_luhn_detects_adjacent_transpositions_except_09(payload: str, data: st.DataObject) -> None:
    number = payload + luhn_check_digit(payload)
    i = data.draw(st.integers(0, len(number) - 2))
    pair = {number[i], number[i + 1]}
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    if swapped != number and pair != {"0", "9"}:
        assert not luhn_is_valid(swapped)


def test_luhn_misses_the_09_transposition_as_documented() -> None:
    number = "09" + luhn_check_digit("09")
    assert luhn_is_valid(number)
    assert luhn_is_valid("90" + number[2])
