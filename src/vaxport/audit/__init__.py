"""The audit log's reader: the API, the CLI, the sealing runner (core keeps the writer)."""
