"""Shared by the import measurements (``facilities_import.py``, ``registration_import.py``):
writing a generated file, and the measuring process's peak RSS."""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path


def write_table(path: Path, header: list[str], rows: Iterable[list[str]], xlsx: bool) -> None:
    """A CSV or XLSX file, written as a stream (the writer's memory does not matter)."""
    if xlsx:
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for r in rows:
            sheet.append(r)
        book.save(path)
        return
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def rss_mib() -> float:
    """This process's peak resident set size so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_child(script: str, *args: str) -> dict[str, float]:
    """Run ``script --child ARGS`` in a fresh Python and parse its last line (JSON)."""
    done = subprocess.run(
        [sys.executable, script, "--child", *args], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
