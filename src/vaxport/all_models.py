"""Imports every context's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

import vaxport.core.audit.models
import vaxport.core.crypto.models
import vaxport.core.idempotency
import vaxport.core.outbox.models
import vaxport.facilities.models
import vaxport.identity.models
import vaxport.notifications.models
import vaxport.registration.models
import vaxport.tenancy.models  # noqa: F401
