"""Messages per second through the SMTP and SMS-over-HTTP channels to local peers.

Run: PYTHONPATH=src python bench/notifications_throughput.py [--messages N]

The peers run in their own processes (aiosmtpd's Sink handler; a tiny uvicorn app),
so the numbers measure the channel code and the protocol round trips, not a peer
sharing our event loop. Each scenario reports the rate with connections reused (the
channel's pool) and, for comparison, with a fresh connection per message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from vaxport.core.logging import configure_logging
from vaxport.notifications.channels.base import Channel, OutgoingMessage, SendResult
from vaxport.notifications.channels.http import HttpPool
from vaxport.notifications.channels.sms_http import HttpSmsChannel
from vaxport.notifications.channels.smtp import SmtpChannel
from vaxport.tenancy.notifications_config import SmsHttpOptions, SmtpOptions

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"peer on port {port} did not start")


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


async def run(
    channel: Channel, make: Callable[[int], OutgoingMessage], n: int, concurrency: int
) -> tuple[float, int]:
    """(messages per second, failures) for ``n`` sends with ``concurrency`` workers."""
    counter = iter(range(n))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for i in counter:
            if not (await channel.send(make(i))).ok:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started), failures


def email(i: int) -> OutgoingMessage:
    return OutgoingMessage(
        kind="email",
        to=f"person{i}@example.org",
        dedup_key=f"bench-mail-{i}",
        subject="Your vaxport login code",
        text=f"Your vaxport code is {i:08d}. It expires in 10 minutes.",
        html=f"<p>Your vaxport code is <strong>{i:08d}</strong>.</p>",
        tenant="bench",
        event="login_code",
        locale="en",
    )


def sms(i: int) -> OutgoingMessage:
    return OutgoingMessage(
        kind="sms",
        to="+33612345678",
        dedup_key=f"bench-sms-{i}",
        text=f"Your vaxport code is {i:08d}. It expires in 10 minutes.",
        tenant="bench",
        event="login_code",
        locale="en",
    )


Scenario = tuple[str, Callable[[], Awaitable[Channel]], Callable[[int], OutgoingMessage], int]


class RawHttp(Channel):
    """Ceiling: the same POST with a bare shared httpx client, no channel logic."""

    type = "raw-http"
    kinds = frozenset({"sms"})

    def __init__(self, url: str, pool: HttpPool) -> None:
        super().__init__("raw")
        self.url, self.pool = url, pool

    async def send(self, message: OutgoingMessage) -> SendResult:
        r = await self.pool.client.post(self.url, json={"to": message.to, "text": message.text})
        return SendResult.sent(None) if r.status_code == 200 else SendResult.transient("x")

    async def _send(self, message: OutgoingMessage) -> SendResult:  # pragma: no cover
        raise NotImplementedError


class RawSmtp(Channel):
    """Ceiling: aiosmtplib's send_message on one open connection, no channel logic."""

    type = "raw-smtp"
    kinds = frozenset({"email"})

    def __init__(self, port: int) -> None:
        super().__init__("raw")
        self.smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not self.smtp.is_connected:
            await self.smtp.connect()
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "bench@example.org", message.to, "x"
        msg.set_content(message.text)
        await self.smtp.send_message(msg)
        return SendResult.sent(None)

    async def _send(self, message: OutgoingMessage) -> SendResult:  # pragma: no cover
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.smtp.quit()


async def main(n: int) -> None:
    configure_logging(level="WARNING", json=True)
    smtp_port, http_port = free_port(), free_port()
    py = sys.executable
    procs = [
        start(
            [
                py,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{smtp_port}",
                "-c",
                "aiosmtpd.handlers.Sink",
            ],
            smtp_port,
        ),
        start(
            [
                py,
                "-m",
                "uvicorn",
                "notifications_peer:app",
                "--app-dir",
                str(HERE),
                "--port",
                str(http_port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--lifespan",
                "off",
            ],
            http_port,
        ),
    ]
    pool = HttpPool()

    def smtp(max_connections: int, idle_seconds: float) -> Callable[[], Awaitable[Channel]]:
        async def build() -> Channel:
            return SmtpChannel(
                "bench",
                SmtpOptions(
                    host="127.0.0.1",
                    port=smtp_port,
                    security="plain",
                    sender="bench@example.org",
                    max_connections=max_connections,
                    idle_seconds=idle_seconds,
                ),
            )

        return build

    def gateway() -> Callable[[], Awaitable[Channel]]:
        async def build() -> Channel:
            return HttpSmsChannel(
                "bench",
                SmsHttpOptions(
                    url=f"http://127.0.0.1:{http_port}/send",
                    body={"to": "{to}", "text": "{text}", "ref": "{dedup_key}"},
                    message_id_json_path="messages.0.id",
                ),
                pool=pool,
            )

        return build

    async def raw_smtp() -> Channel:
        return RawSmtp(smtp_port)

    async def raw_http() -> Channel:
        return RawHttp(f"http://127.0.0.1:{http_port}/send", pool)

    scenarios: list[Scenario] = [
        ("ceiling: bare aiosmtplib, 1 connection, sequential", raw_smtp, email, 1),
        ("smtp, 1 reused connection, sequential", smtp(1, 30), email, 1),
        ("smtp, new connection per message, sequential", smtp(1, 0), email, 1),
        ("smtp, 4 reused connections, 4 concurrent", smtp(4, 30), email, 4),
        ("ceiling: bare httpx POST, sequential", raw_http, sms, 1),
        ("sms-http, keep-alive, sequential", gateway(), sms, 1),
        ("ceiling: bare httpx POST, 16 concurrent", raw_http, sms, 16),
        ("sms-http, pooled keep-alive, 16 concurrent", gateway(), sms, 16),
    ]
    try:
        print(f"{n} messages per scenario, CPU count {os.cpu_count()}")
        for label, build, make, concurrency in scenarios:
            channel = await build()
            await run(channel, make, 50, concurrency)  # warm-up: connections, caches
            rate, failures = await run(channel, make, n, concurrency)
            await channel.aclose()
            print(f"  {label:<52} {rate:8.0f} msg/s   failures: {failures}")
    finally:
        await pool.aclose()
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    asyncio.run(main(parser.parse_args().messages))
