"""Cross-cutting machinery that knows no domain: db, cache, errors, logging, outbox..."""
