"""Workbooks built from their XML parts: hostile ones, and ones too big to build with
openpyxl in a test's time."""

from __future__ import annotations

import io
import zipfile

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
    'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    f'<?xml version="1.0"?><workbook {NS} xmlns:r="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
    "</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def xlsx(sheet: str, extra: dict[str, bytes] | None = None, stored: bool = False) -> bytes:
    out = io.BytesIO()
    mode = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w", mode) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f"<worksheet {NS}><sheetData>{sheet}</sheetData></worksheet>",
        )
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def huge_body(header: list[str], rows: int = 150_000) -> bytes:
    """A valid ``header`` (as shared strings, then an inline one) over ``rows`` rows of
    distinct ~100-character texts: under every limit, but a whole-workbook parse holds
    every text (openpyxl loads the shared-strings table before the first row)."""
    pad = "x" * 90
    named = [f"<si><t>{name}</t></si>" for name in header[:-1]]
    body = (f"<si><t>row {i:07d} {pad}</t></si>" for i in range(rows))
    shared = f"<sst {NS}>{''.join(named)}{''.join(body)}</sst>".encode()
    first = "".join(
        f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(len(header) - 1)
    ) + (f'<c r="{chr(64 + len(header))}1" t="inlineStr"><is><t>{header[-1]}</t></is></c>')
    lines = (
        f'<row r="{i + 2}"><c r="A{i + 2}" t="s"><v>{len(header) - 1 + i}</v></c></row>'
        for i in range(rows)
    )
    return xlsx(f'<row r="1">{first}</row>' + "".join(lines), {"xl/sharedStrings.xml": shared})
