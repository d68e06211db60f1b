"""Fairness under surge: the web side (routes, schemas, links) and the worker side (the
draw and hold-expiry jobs, the waitlist's subscriber) of ``scheduling/release.py`` and
``scheduling/waitlist.py``."""
