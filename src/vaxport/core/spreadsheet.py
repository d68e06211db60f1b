"""Every CSV file we produce is written here, its cells made safe to open in a spreadsheet.

A text cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return
before one) is run as a formula by spreadsheet programs (``=HYPERLINK(...)`` sends data
away, ``=cmd|...`` runs a program): "CSV injection". Names starting so are valid input
(issue 12), and an error report or an export may one day show what a file or a person
sent. So every text cell starting with one of those characters is written behind an
apostrophe, which spreadsheets read as "this is text" and do not show; numbers are
written as numbers. A future XLSX writer belongs here too, through :func:`safe_cell`.
``tests/test_house_rules.py`` fails on a ``csv.writer`` or ``openpyxl.Workbook`` elsewhere.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` as a spreadsheet should receive it: a text that would start a formula
    gets a leading apostrophe; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CsvWriter:
    """``csv.writer`` with every cell passed through :func:`safe_cell`."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out)

    def row(self, cells: Iterable[object]) -> None:
        """Write one line."""
        self._writer.writerow([safe_cell(cell) for cell in cells])
