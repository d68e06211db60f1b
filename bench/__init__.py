"""The load benchmark behind ``vaxport bench``.

``scenarios`` is the registry (one entry per measured request), ``runner`` starts the
servers and drives wrk, ``report`` turns wrk's numbers into ratios, a table and JSON,
``procs`` manages the server processes and reads their CPU time, ``wrk`` wraps the load
generator. See ``bench/README.md``.
"""
