"""The day at a centre: today's list for vaccinators and managers, and its marks.

``reach.py`` (who may work a centre's day, and the tenant's "today"), ``day.py`` (the
day's list, a booking code looked up, a session's counts), ``marks.py`` (a person seen:
``completed``; a session closed: the still-booked become ``no_show``), ``closing.py``
(the worker closes the sessions whose day is over, as staff would), ``api.py`` (the
routes), ``schemas.py``, ``links.py``. The pages and other contexts use these through
:mod:`vaxport.scheduling.service`.
"""
