"""E-mail over SMTP (aiosmtplib): STARTTLS, implicit TLS or plain; pooled connections.

Connections are kept open and reused for the next message (one SMTP session carries
many transactions), up to ``max_connections`` at a time, and dropped after
``idle_seconds`` unused. A connection found closed by the server when the next
message starts (at ``MAIL FROM``, before anything was accepted) is replaced once.

The Message-ID derives from the dedup key, so a retried message keeps its identity and
receiving systems can drop the duplicate. Reply classes: 4xx is transient, 5xx about the
recipient or the content is permanent; credential and sender problems are transient
(the operator fixes them, the message is fine).
"""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import ssl
import time
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from vaxport.core.clock import utcnow
from vaxport.core.destinations import parse_sender
from vaxport.notifications.channels.base import (
    Channel,
    ChannelConfigError,
    OutgoingMessage,
    SendResult,
    read_secret,
)
from vaxport.tenancy.service import SmtpOptions

# 7-bit transfer encodings (quoted-printable/base64) work through any relay.
_POLICY = email.policy.SMTP.clone(cte_type="7bit")


def _ascii_address(address: str) -> str:
    """The address with an IDNA-encoded domain; refuses a non-ASCII local part."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise ValueError("non-ASCII local part")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def message_id_for(tenant: str, dedup_key: str, domain: str) -> str:
    """A stable RFC 5322 Message-ID for one logical message."""
    digest = hashlib.sha256(f"{tenant}\x00{dedup_key}".encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


class _StaleConnectionError(Exception):
    """The connection was closed before this transaction started: safe to redo."""


class _SendFailedError(Exception):
    def __init__(self, result: SendResult) -> None:
        self.result = result


def _from_response(exc: aiosmtplib.SMTPResponseException, *, phase: str) -> SendResult:
    code = exc.code
    status = str(code)
    if phase in {"connect", "sender"} or code in (530, 535, 538):
        # Greeting, credentials or envelope sender refused: the server or our
        # configuration, not this message.
        return SendResult.transient(f"smtp_{code}", provider_status=status)
    if 400 <= code < 500:
        return SendResult.transient(f"smtp_{code}", provider_status=status)
    if 500 <= code < 600:
        return SendResult.permanent(f"smtp_{code}", provider_status=status)
    return SendResult.transient("smtp_unexpected_reply", provider_status=status)


class SmtpChannel(Channel):
    """Sends e-mail through one SMTP relay."""

    type = "smtp"
    kinds = frozenset({"email"})

    def __init__(self, name: str, options: SmtpOptions) -> None:
        super().__init__(name)
        self.options = options
        self._password = (
            read_secret(options.password_env, option="password_env")
            if options.password_env
            else None
        )
        sender_name, sender_addr = parse_sender(options.sender)
        self._envelope_from = _ascii_address(sender_addr)
        self._from_header = formataddr((sender_name, self._envelope_from))
        self._domain = self._envelope_from.rpartition("@")[2]
        self._tls_context: ssl.SSLContext | None = None
        if options.security != "plain":
            try:
                ctx = ssl.create_default_context(cafile=options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ChannelConfigError(f"ca_file: cannot load {options.ca_file}") from exc
            if not options.validate_certs:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._tls_context = ctx
        self._slots = asyncio.Semaphore(options.max_connections)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._closed = False

    def build_email(self, message: OutgoingMessage) -> tuple[str, bytes]:
        """(envelope recipient, RFC 5322 bytes) for ``message``."""
        rcpt = _ascii_address(message.to)
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = self._from_header
        msg["To"] = rcpt
        msg["Subject"] = " ".join((message.subject or "").split())
        msg["Date"] = format_datetime(utcnow())
        msg["Message-ID"] = message_id_for(message.tenant, message.dedup_key, self._domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        if self.options.reply_to:
            msg["Reply-To"] = self.options.reply_to
        if message.locale:
            msg["Content-Language"] = message.locale
        msg.set_content(message.text)
        if message.html:
            msg.add_alternative(message.html, subtype="html")
        return rcpt, msg.as_bytes()

    async def _connect(self) -> aiosmtplib.SMTP:
        o = self.options
        smtp = aiosmtplib.SMTP(
            hostname=o.host,
            port=o.effective_port,
            use_tls=o.security == "tls",
            start_tls=o.security == "starttls",
            tls_context=self._tls_context,
            timeout=o.timeout_seconds,
            local_hostname=o.local_hostname,
        )
        try:
            await smtp.connect()
            if o.username and self._password is not None:
                await smtp.login(o.username, self._password)
        except aiosmtplib.SMTPTimeoutError:
            smtp.close()
            raise _SendFailedError(SendResult.transient("timeout")) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise _SendFailedError(
                SendResult.transient("auth_failed", provider_status=str(exc.code))
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise _SendFailedError(_from_response(exc, phase="connect")) from None
        except aiosmtplib.SMTPConnectError:
            smtp.close()
            raise _SendFailedError(SendResult.transient("connection_failed")) from None
        except (aiosmtplib.SMTPException, ssl.SSLError):
            smtp.close()
            raise _SendFailedError(SendResult.transient("tls_failed")) from None
        except OSError:
            smtp.close()
            raise _SendFailedError(SendResult.transient("connection_failed")) from None
        return smtp

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            smtp, since = self._idle.pop()
            if smtp.is_connected and now - since <= self.options.idle_seconds:
                return smtp
            smtp.close()
        return None

    async def _transaction(self, smtp: aiosmtplib.SMTP, rcpt: str, payload: bytes) -> str:
        try:
            await smtp.mail(self._envelope_from)
        except aiosmtplib.SMTPServerDisconnected:
            raise _StaleConnectionError from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _SendFailedError(_from_response(exc, phase="sender")) from None
        try:
            await smtp.rcpt(rcpt)
        except aiosmtplib.SMTPResponseException as exc:
            raise _SendFailedError(_from_response(exc, phase="recipient")) from None
        try:
            response = await smtp.data(payload)
        except aiosmtplib.SMTPResponseException as exc:
            raise _SendFailedError(_from_response(exc, phase="data")) from None
        return str(response.code)

    async def _send(self, message: OutgoingMessage) -> SendResult:
        try:
            rcpt, payload = self.build_email(message)
        except (ValueError, UnicodeError):
            return SendResult.permanent("invalid_address")
        message_id = message_id_for(message.tenant, message.dedup_key, self._domain)
        async with self._slots:
            smtp = self._take_idle()
            try:
                smtp, status = await self._deliver(smtp, rcpt, payload)
            except _SendFailedError as failure:
                return failure.result
            if self._closed:  # aclose() ran while this message was in flight
                smtp.close()
            else:
                self._idle.append((smtp, time.monotonic()))
        return SendResult.sent(message_id, provider_status=status)

    async def _deliver(
        self, idle: aiosmtplib.SMTP | None, rcpt: str, payload: bytes
    ) -> tuple[aiosmtplib.SMTP, str]:
        """Run one transaction on ``idle`` (or a new connection); failures close it."""
        smtp = idle
        try:
            if smtp is None:
                smtp = await self._connect()
            try:
                return smtp, await self._transaction(smtp, rcpt, payload)
            except _StaleConnectionError:
                smtp.close()
                if idle is None:
                    raise
                # The server dropped the idle connection; nothing was sent on it.
                smtp = await self._connect()
                return smtp, await self._transaction(smtp, rcpt, payload)
        except _SendFailedError:
            if smtp is not None:
                smtp.close()
            raise
        except BaseException as exc:
            if smtp is not None:
                smtp.close()
            if isinstance(exc, aiosmtplib.SMTPTimeoutError):
                raise _SendFailedError(SendResult.transient("timeout")) from None
            if isinstance(
                exc, _StaleConnectionError | aiosmtplib.SMTPServerDisconnected | ConnectionError
            ):
                raise _SendFailedError(SendResult.transient("disconnected")) from None
            raise

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            try:
                await asyncio.wait_for(smtp.quit(), timeout=2)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass
            finally:
                smtp.close()
