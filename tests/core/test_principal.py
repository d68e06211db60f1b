"""``Principal``: who acts, as core's writers name them."""

from __future__ import annotations

import pytest

from tests.core.helpers import new_id
from vaxport.core.principal import ANONYMOUS, OPERATOR, SYSTEM, Principal


def test_accounts_act_under_their_id_and_system_callers_under_none() -> None:
    assert Principal(new_id(), "vaccinator", "staff").kind == "staff"
    assert (SYSTEM.id, SYSTEM.role, SYSTEM.kind) == (None, "system", "system")
    assert (OPERATOR.id, OPERATOR.role, OPERATOR.kind) == (None, "operator", "system")
    assert (ANONYMOUS.id, ANONYMOUS.role, ANONYMOUS.kind) == (None, "anonymous", "anonymous")
    with pytest.raises(ValueError, match="account id"):
        Principal(None, "citizen", "citizen")
    with pytest.raises(ValueError, match="no account id"):
        Principal(new_id(), "system", "system")


def test_staff_or_system_reads_a_stored_actor_id_and_role() -> None:
    account = new_id()
    assert Principal.staff_or_system(account, "region_admin") == Principal(
        account, "region_admin", "staff"
    )
    assert Principal.staff_or_system(None, "operator") == OPERATOR
