"""The AWS SNS channel against moto in server mode (a real HTTP endpoint on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.peers import free_port
from vaxport.notifications.channels.base import ChannelConfigError, Outcome, OutgoingMessage
from vaxport.notifications.channels.sns import SnsChannel, boto3_available
from vaxport.tenancy.notifications_config import SnsOptions

try:
    from moto.server import ThreadedMotoServer
except ImportError:  # pragma: no cover - depends on the installed extras
    ThreadedMotoServer = None

pytestmark = pytest.mark.skipif(
    ThreadedMotoServer is None or not boto3_available(),
    reason="boto3 and moto[server] are needed (pip install -e '.[dev]')",
)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AWS_KEY_ID", "testing")
    monkeypatch.setenv("TEST_AWS_SECRET", "testing")


def make(moto_url: str) -> SnsChannel:
    options = SnsOptions.model_validate(
        {
            "region": "eu-west-1",
            "endpoint_url": moto_url,
            "access_key_id_env": "TEST_AWS_KEY_ID",
            "secret_access_key_env": "TEST_AWS_SECRET",
            "sender_id": "VAXPORT",
            "timeout_seconds": 5,
        }
    )
    return SnsChannel("sns", options)


def sms(to: str) -> OutgoingMessage:
    return OutgoingMessage(kind="sms", to=to, dedup_key="evt-1", text="Code 482913", event="x")


@pytest.mark.usefixtures("aws_keys")
async def test_publishes_an_sms(moto_url: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    channel = make(moto_url)
    try:
        result = await channel.send(sms("+33612345678"))
    finally:
        await channel.aclose()
    assert result.outcome is Outcome.SENT
    assert result.provider_message_id
    backend = sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"]
    sent = {mid: (phone, text) for mid, (phone, text, *_) in backend.sms_messages.items()}
    assert sent[result.provider_message_id] == ("+33612345678", "Code 482913")


@pytest.mark.usefixtures("aws_keys")
async def test_an_invalid_number_is_permanent(moto_url: str) -> None:
    channel = make(moto_url)
    try:
        result = await channel.send(sms("0612-not-e164"))
    finally:
        await channel.aclose()
    assert result.outcome is Outcome.PERMANENT
    assert result.reason.startswith("sns_")
    assert result.provider_status == "400"


@pytest.mark.usefixtures("aws_keys")
async def test_an_unreachable_endpoint_is_transient(closed_port: int) -> None:
    channel = make(f"http://127.0.0.1:{closed_port}")
    try:
        result = await channel.send(sms("+33612345678"))
    finally:
        await channel.aclose()
    assert (result.outcome, result.reason) == (Outcome.TRANSIENT, "connection_failed")


def test_missing_key_variables_fail_at_build(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_AWS_KEY_ID", raising=False)
    with pytest.raises(ChannelConfigError, match="TEST_AWS_KEY_ID"):
        make(moto_url)
