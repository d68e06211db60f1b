"""Bulk beneficiary imports: upload, the streamed engine, the worker handler, progress."""
