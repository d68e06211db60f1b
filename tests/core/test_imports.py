"""The shared import engine: in-file duplicate keys on disk (hashed), bounded batches."""

from __future__ import annotations

from pathlib import Path

from vaxport.core.errors import field_error
from vaxport.core.imports.engine import Errors, Reader, Tally, check_columns
from vaxport.core.imports.readers import open_source
from vaxport.core.imports.seen import SeenKeys


def test_seen_keys_remember_first_rows_and_keep_no_key_in_the_clear() -> None:
    seen = SeenKeys()
    try:
        assert seen.first_row("national-id\x008504123079", 2) is None
        assert seen.first_row("national-id\x008504123079", 9) == 2
        assert seen.first_row("passport\x008504123079", 9) is None
        files = list(Path(seen._dir.name).iterdir())
        assert files
        assert all(b"8504123079" not in f.read_bytes() for f in files)
    finally:
        seen.close()


def test_a_batch_ends_after_n_rows_read_valid_or_not(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("k\n" + "".join(f"{'bad' if i % 2 else i}\n" for i in range(11)))

    def parse(number: int, record: list[str]) -> str | Errors:
        return [field_error("k", "is bad")] if record[0] == "bad" else record[0]

    problems: list[tuple[int, str, str]] = []
    tally = Tally(sink=lambda *p: problems.append(p))
    reader = Reader(source=open_source(path, "csv"), parse=parse, key=lambda v: ("k", v),
                    tally=tally, batch_size=4, skip=2)  # fmt: skip
    try:
        batches = [reader.next_batch(), reader.next_batch(), reader.next_batch()]
    finally:
        reader.close()
    assert batches == [(["2", "4"], False), (["6", "8"], False), (["10"], True)]
    assert (tally.rows, tally.invalid, problems[0]) == (9, 4, (5, "k", "is bad"))


def test_header_problems_are_named() -> None:
    names, errors = check_columns(
        ["A", "b", "a", ""], lambda n: n if n in {"a", "c"} else None, ("c",)
    )
    assert names == ["a", "", "a", ""]
    assert [(e["field"], e["reason"]) for e in errors] == [
        ("b", "is not a column of the import format"),
        ("a", "appears more than once"),
        ("(empty)", "is not a column of the import format"),
        ("c", "is a required column"),
    ]
