"""Staff invitations and sign-in resets are e-mailed (through a real SMTP server), with a
link built from ``VAXPORT_PUBLIC_URL``: the address people reach the service at."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.identity.helpers import actor_for
from tests.notifications.dispatch_support import notifications, run_worker, smtp, tenant_with
from tests.notifications.peers import Mailbox
from tests.support.parts import PARTS
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.demo import served_at
from vaxport.identity.staff import admin as staff
from vaxport.settings import Settings

pytestmark = pytest.mark.usefixtures("dispatch_env")

PUBLIC = "https://vaccination.health.example:8443"


@pytest.fixture(autouse=True)
def _wired() -> None:
    wiring.install(PARTS)  # identity's ports: how it asks notifications to send


def _mail(mailbox: Mailbox, n: int = 0) -> tuple[list[str], email.message.EmailMessage]:
    received = mailbox.messages[n]
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return received.rcpt_tos, parsed


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_an_invitation_is_emailed_with_a_link_to_the_public_address(
    clean_db: Database, cache: Cache, fast: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    settings = fast.model_copy(update={"public_url": PUBLIC + "/"})
    tenant = await tenant_with(clean_db, notifications(smtp(port), email="mail"))
    made = await staff.create_staff(
        db=clean_db,
        settings=settings,
        tenant=tenant,
        actor=None,
        username="amina.sow",
        role="analyst",
        email="Amina.Sow@Health.example",
    )

    await run_worker(clean_db, cache, fast)

    [(rcpt, message)] = [_mail(mailbox)]
    assert rcpt == ["amina.sow@health.example"]
    assert message["Subject"] == "Your vaxport staff account"
    link = f"{PUBLIC}/{tenant.code}/staff/activate?token={made.token}"
    assert link == made.url(settings, tenant.code)
    assert link in _text(message)
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert f'href="{link}"' in str(html.get_content())


async def test_a_sign_in_reset_is_emailed_with_the_new_link(
    clean_db: Database, cache: Cache, fast: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    settings = fast.model_copy(update={"public_url": PUBLIC})
    tenant = await tenant_with(
        clean_db, notifications(smtp(port), email="mail"), default_locale="fr"
    )
    first = await staff.create_staff(
        db=clean_db,
        settings=settings,
        tenant=tenant,
        actor=None,
        username="moussa.ba",
        role="analyst",
        email="moussa@health.example",
    )
    again = await staff.reset_staff(
        db=clean_db,
        cache=cache,
        settings=settings,
        actor=actor_for(tenant, "national_admin"),
        account_id=first.account.id,
        tenant_code=tenant.code,
    )

    await run_worker(clean_db, cache, fast)

    subjects = {_mail(mailbox, n)[1]["Subject"]: _mail(mailbox, n)[1] for n in range(2)}
    # In the tenant's language; the reset carries the new link, the old one is void.
    reset = subjects["Votre connexion vaxport a été réinitialisée"]
    assert again.url(settings, tenant.code) in _text(reset)
    assert first.token not in _text(reset)
    assert "Votre compte du personnel vaxport" in subjects


async def test_nothing_is_sent_to_staff_without_an_address(
    clean_db: Database, cache: Cache, fast: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    tenant = await tenant_with(clean_db, notifications(smtp(port), email="mail"))
    await staff.create_staff(
        db=clean_db, settings=fast, tenant=tenant, actor=None, username="no.mail", role="analyst"
    )
    await run_worker(clean_db, cache, fast)
    assert mailbox.messages == []


def test_the_demo_builds_links_from_the_address_it_serves_on() -> None:
    base = Settings(env="test")
    assert served_at(base, host="127.0.0.1", port=8123).public_url == "http://127.0.0.1:8123"
    assert served_at(base, host="0.0.0.0", port=9000).public_url == "http://127.0.0.1:9000"
    assert served_at(base, host="::1", port=9000).public_url == "http://[::1]:9000"
    explicit = Settings(env="test", public_url="https://vax.example")
    assert served_at(explicit, host="127.0.0.1", port=8123).public_url == "https://vax.example"
