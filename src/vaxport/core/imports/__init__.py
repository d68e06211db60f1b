"""Streamed bulk imports shared by the contexts: readers, the batch loop, the error report.

* :mod:`readers` — CSV (UTF-8) and XLSX sources read as streams, with a progress fraction.
* :mod:`seen` — the keys met so far in a file, on disk (flat memory, hashed keys).
* :mod:`engine` — the batch loop (read in a thread, write one transaction a batch), the
  tally of rows and problems, the CSV report sink.
* :mod:`upload` — a request body spooled to disk, its declared format.

A context supplies what a row means (its parser, its unique key, its batch writer).
"""
