"""Who is really calling, over what: proxy headers from trusted peers only, HTTPS policy.

Behind a load balancer every connection comes from the balancer, and the client's
address and scheme arrive in ``X-Forwarded-For``/``X-Forwarded-Proto`` (or RFC 7239
``Forwarded``). Anyone can send those headers, so they are believed only when the direct
peer is in ``VAXPORT_TRUSTED_PROXIES`` (addresses or CIDR networks), and only as far as
the chain of trusted proxies goes: walking the list from the right (the hop nearest to
us), the first address that is not a trusted proxy is the client. Everything after this
middleware (rate limits, audit IP hashes, idempotency scopes, logs) reads the result in
the standard ASGI places, ``scope["client"]`` and ``scope["scheme"]``; uvicorn's own
proxy handling is switched off (``vaxport serve``) so this is the one place it happens.

Only one header family is read (``VAXPORT_FORWARDED_HEADER``): a proxy that appends to
``X-Forwarded-For`` passes a client's forged ``Forwarded`` through untouched, so reading
both would let a client choose its own address.

With ``VAXPORT_FORCE_HTTPS``, plain-HTTP page requests are redirected to HTTPS (301 for
GET/HEAD, 308 otherwise, so a form post keeps its method), while API and FHIR calls are
refused with 421 (Misdirected Request: this server does not answer ``http://`` URIs). A
redirect would teach API clients nothing: they would silently resend the same token and
body over the same plain connection on the next call. Health and metrics endpoints
answer on either scheme, because probes and scrapers talk to replicas directly.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from vaxport.core.errors import Problem
from vaxport.core.http.middleware import send_problem
from vaxport.core.http.security_headers import baseline_headers

_MAX_HOPS = 32
_MAX_HEADER = 4096
_TRUST_MEMO = 4096
_HOST_OK = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
_API_PREFIXES = ("/api/", "/fhir/")
_EITHER_SCHEME = frozenset({"/healthz", "/readyz", "/metrics"})
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class HttpsRequired(Problem):
    status, slug, title = 421, "https-required", "HTTPS required"


def normalise_ip(text: str) -> str | None:
    """An address as written in a proxy header (maybe with port or brackets), or None."""
    value = text.strip().strip('"')
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port; IPv6 has more colons
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return ip.compressed


def address_group(address: str | None) -> str:
    """What counts as one client when counting attempts: IPv4 by address, IPv6 by /64.

    One IPv6 host is routinely given a whole /64, so keying on the full address would let
    it rotate through 2**64 "clients". IPv4-mapped IPv6 counts as its IPv4 address.
    Anything that is not an address (a test client's name) is kept as written, truncated.
    """
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return ipaddress.ip_network(f"{ip}/64", strict=False).with_prefixlen
    return str(ip)


class ProxyHeaders:
    """Decides the client address and scheme of a request from its peer and headers."""

    def __init__(self, trusted: Sequence[str], *, header: str = "x-forwarded") -> None:
        self.networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(item, strict=False) for item in trusted
        )
        self.use_forwarded = header == "forwarded"
        self._memo: dict[str, bool] = {}
        self._ips: dict[str, str | None] = {}

    def ip(self, text: str) -> str | None:
        """:func:`normalise_ip`, remembered (proxies and busy clients repeat)."""
        try:
            return self._ips[text]
        except KeyError:
            found = self._ips[text] = normalise_ip(text)
            if len(self._ips) >= _TRUST_MEMO:
                self._ips.clear()
            return found

    def is_trusted(self, ip: str) -> bool:
        """True when ``ip`` (normalised) is one of the trusted proxies."""
        known = self._memo.get(ip)
        if known is None:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                known = False
            else:
                known = any(address in net for net in self.networks)
            if len(self._memo) >= _TRUST_MEMO:
                self._memo.clear()
            self._memo[ip] = known
        return known

    def resolve(self, scope: Scope) -> tuple[str, str] | None:
        """``(client ip, scheme)`` when the peer is trusted, else None (leave as it is)."""
        client = scope.get("client")
        if not self.networks or not client:
            return None
        peer = self.ip(str(client[0]))
        if peer is None or not self.is_trusted(peer):
            return None
        if self.use_forwarded:
            hops, proto = _parse_forwarded(_header(scope, b"forwarded"))
        else:
            hops = _header(scope, b"x-forwarded-for").split(",")[-_MAX_HOPS:]
            protos = _header(scope, b"x-forwarded-proto").split(",")
            proto = protos[-1].strip().lower()
        address = peer
        for hop in reversed(hops):
            if not hop.strip():
                continue
            ip = self.ip(hop)
            if ip is None:
                break  # "unknown", an obfuscated name or junk: nothing further is knowable
            address = ip
            if not self.is_trusted(ip):
                break
        scheme = proto if proto in ("http", "https") else scope.get("scheme", "http")
        return address, scheme


def _header(scope: Scope, name: bytes) -> str:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == name]
    return ",".join(values)[-_MAX_HEADER:]


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_forwarded(text: str) -> tuple[list[str], str]:
    """RFC 7239: the ``for=`` of each element, and the nearest element's ``proto``."""
    hops: list[str] = []
    proto = ""
    for element in _split_outside_quotes(text, ",")[-_MAX_HOPS:]:
        hop = ""
        proto = ""
        for pair in _split_outside_quotes(element, ";"):
            key, _, value = pair.partition("=")
            key = key.strip().lower()
            if key == "for":
                hop = value.strip().strip('"') or "unknown"
            elif key == "proto":
                proto = value.strip().strip('"').lower()
        hops.append(hop or "unknown")
    return hops, proto


class TransportMiddleware:
    """Pure ASGI: sets ``scope["client"]``/``scope["scheme"]``, then applies the HTTPS policy.

    Install it only when there is something to do (trusted proxies or forced HTTPS).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: Sequence[str] = (),
        forwarded_header: str = "x-forwarded",
        force_https: bool = False,
        public_url: str = "",
    ) -> None:
        self.app = app
        self.proxies = ProxyHeaders(trusted_proxies, header=forwarded_header)
        self.force_https = force_https
        parts = urlsplit(public_url)
        # Redirect to the configured public origin when it is HTTPS: never to a host
        # named by the request alone if the operator told us where we live.
        self.https_origin = f"https://{parts.netloc}" if parts.scheme == "https" else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        resolved = self.proxies.resolve(scope)
        if resolved is not None:
            address, scheme = resolved
            scope["client"] = (address, 0)
            scope["scheme"] = scheme
        if (
            self.force_https
            and scope.get("scheme") != "https"
            and scope["path"] not in _EITHER_SCHEME
        ):
            await self._refuse_plain_http(scope, send)
            return
        await self.app(scope, receive, send)

    async def _refuse_plain_http(self, scope: Scope, send: Send) -> None:
        path: str = scope["path"]
        location = None if path.startswith(_API_PREFIXES) else self._https_url(scope)
        if location is None:
            problem = HttpsRequired("this service answers over HTTPS only; use https://")
            problem.headers.update(baseline_headers(html=False))
            await send_problem(send, problem, path=path)
            return
        status = 301 if scope["method"] in ("GET", "HEAD") else 308
        headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
        headers += [(k.encode(), v.encode()) for k, v in baseline_headers(html=False)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _https_url(self, scope: Scope) -> str | None:
        origin = self.https_origin
        if not origin:
            host = _header(scope, b"host").strip()
            if not _HOST_OK.match(host):
                return None
            if not host.startswith("["):
                host = host.split(":", 1)[0]
            elif "]:" in host:
                host = host.rsplit(":", 1)[0]
            origin = f"https://{host}"
        raw = scope.get("raw_path")
        target = raw.decode("latin-1") if raw else quote(scope["path"])
        query: bytes = scope.get("query_string", b"")
        return f"{origin}{target}" + (f"?{query.decode('latin-1')}" if query else "")
