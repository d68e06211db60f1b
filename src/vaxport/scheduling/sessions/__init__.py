"""Sessions and slots: publishing a centre's sessions, reading them, closing and cancelling.

``schemas`` (requests and answers), ``plans`` (a request checked against the tenant and
turned into sessions and slot times), ``publishing`` (the publish use case and the bulk
writer the demo shares), ``reads`` (one session, a staff list), ``ending`` (close, cancel,
cancel a slot, and the reaction to a facility's deactivation), ``relocation`` (a centre's
sessions follow its corrected region), ``api`` (routes), ``links``, ``events`` (its
subscribers) and ``demo``. Other packages reach it through
``vaxport.scheduling.service``.
"""
