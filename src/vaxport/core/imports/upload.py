"""Uploaded import files: the request body streamed to disk, never whole in memory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from starlette.requests import Request

from vaxport.core.errors import PayloadTooLarge, UnsupportedMediaType
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE, Kind

UPLOAD_TYPES: dict[str, Kind] = {
    "text/csv": "csv",
    "application/csv": "csv",
    XLSX_MEDIA_TYPE: "xlsx",
}


def upload_kind(request: Request) -> Kind:
    """The file format the request's Content-Type announces; 415 for any other."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    kind = UPLOAD_TYPES.get(media)
    if kind is None:
        raise UnsupportedMediaType("send text/csv or an .xlsx workbook (" + XLSX_MEDIA_TYPE + ")")
    return kind


async def spool(request: Request, limit: int, directory: Path, kind: Kind) -> Path:
    """The request body in a new ``.csv``/``.xlsx`` file in ``directory`` (readers go by
    the suffix); 413 beyond ``limit`` bytes.

    The caller removes the partial file (or its directory) when this raises.
    """
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=f".{kind}", dir=directory)
    size = 0
    with os.fdopen(fd, "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"uploads are limited to {limit} bytes", limit_bytes=limit)
            out.write(chunk)
    return Path(name)


def remove_tree(directory: Path) -> None:
    """Remove a flat working directory and its files, ignoring what is already gone."""
    with contextlib.suppress(OSError):
        for child in directory.iterdir():
            with contextlib.suppress(OSError):
                child.unlink()
    with contextlib.suppress(OSError):
        directory.rmdir()
