"""Recording doses: one given at the point of care (``POST .../doses``), and an offline
device's batch of them (``sync/``).

``use_case.py`` the use case and its checks; ``reads.py`` what it reads (one statement,
one for a batch); ``writes.py`` what it writes (one batch of statements); ``batch.py``
many doses at once in a caller's transaction (offline sync).
"""

from vaxport.immunization.recording.use_case import (
    FUTURE_SKEW,
    Offline,
    kept_answer,
    record_dose,
    record_in,
)

__all__ = ["FUTURE_SKEW", "Offline", "kept_answer", "record_dose", "record_in"]
