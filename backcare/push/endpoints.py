"""Push endpoints: the one parser the devices API validates with and the sender posts with, and the rule for
the addresses a push may connect to.

Why one parser, and why two parsers inside it: the server POSTs to URLs its users give it, so whatever the
check reads as the host must be the host the HTTP client connects to. urlsplit keeps a backslash inside the
host (``https://127.0.0.2\\.push.apple.com/x`` -> host ``127.0.0.2\\.push.apple.com``, allowlisted) while
urllib3, which requests connects with, ends the host at it (-> 127.0.0.2). So an endpoint is read by both
and refused when they disagree on scheme, host, port or credentials; the host the sender connects to is
urllib3's. On top: https only, no userinfo, no IP literal (nor a numeric host getaddrinfo would read as
one, like ``2130706434``), no port but 443, no fragment, and the host on BACKCARE_PUSH_ENDPOINT_HOSTS.

Names are checked again where it matters, at connect time (backcare/push/http.py): every address the host
resolves to must be public (`address_allowed`): never private, loopback, link-local, multicast, reserved
or unspecified. BACKCARE_PUSH_ALLOW_LOOPBACK (tests, benches, a developer's machine) lets the loopback
WebPush receiver in: a loopback IP literal (127.0.0.0/8, ::1) or ``localhost`` on any port, and loopback
addresses at connect time; nothing else.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

HTTPS_PORT = 443
# A host whose last label is a number (decimal, octal or hex) is read by inet_aton as an IPv4 address.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)


class EndpointRefused(ValueError):
    """An endpoint the server will not post to. `reason` is a short code, `message` says why in words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str  # lower case, no trailing dot, no brackets
    port: int


def loopback_allowed() -> bool:
    return bool(getattr(settings, "BACKCARE_PUSH_ALLOW_LOOPBACK", False))


def host_allowed(host: str) -> bool:
    """On BACKCARE_PUSH_ENDPOINT_HOSTS ('.example.com' allows any subdomain, not example.com itself)."""
    host = (host or "").lower().rstrip(".")
    for entry in getattr(settings, "BACKCARE_PUSH_ENDPOINT_HOSTS", ()):
        entry = entry.strip().lower()
        if entry.startswith("."):
            if host.endswith(entry) and len(host) > len(entry):
                return True
        elif host == entry:
            return True
    return False


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def address_allowed(address: str) -> bool:
    """May a push connect to this address? Public unicast only; loopback too when the setting allows it."""
    ip = _ip(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return loopback_allowed()
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_unspecified)


def endpoint_parse(url: str) -> Endpoint:
    """The endpoint the sender will post to, or EndpointRefused (see the module doc)."""
    if not isinstance(url, str) or not url:
        raise EndpointRefused("bad_url", "Must be an https:// URL.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise EndpointRefused("bad_url", "Must be a URL without spaces or control characters.")
    if "\\" in url:
        raise EndpointRefused("bad_url", "Must not contain a backslash.")
    try:
        split = urlsplit(url)
        split_port = split.port
        parsed = parse_url(url)
    except (ValueError, LocationParseError):
        raise EndpointRefused("bad_url", "Must be a valid https:// URL.") from None
    if (split.scheme or "").lower() != "https" or (parsed.scheme or "").lower() != "https":
        raise EndpointRefused("not_https", "Must be an https:// URL (push services only accept TLS).")
    if "@" in split.netloc or split.username is not None or split.password is not None or parsed.auth:
        raise EndpointRefused("userinfo", "Must not carry credentials (user@ or user:password@).")
    if split.fragment or parsed.fragment:
        raise EndpointRefused("bad_url", "Must not have a #fragment.")
    host = (parsed.host or "").strip("[]").lower().rstrip(".")
    if not host:
        raise EndpointRefused("bad_url", "Must be an https:// URL with a host.")
    if host != (split.hostname or "").lower().rstrip(".") or parsed.port != split_port:
        raise EndpointRefused("bad_url", "Must be an ordinary URL (it reads differently to different parsers).")
    ip = _ip(host)
    numeric = ip is None and _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]) is not None
    loopback = loopback_allowed() and ((ip is not None and ip.is_loopback) or host == "localhost")
    if (ip is not None or numeric) and not loopback:
        raise EndpointRefused("ip_literal", "Must name the push service's host, not an IP address.")
    port = parsed.port or HTTPS_PORT
    if port != HTTPS_PORT and not loopback:
        raise EndpointRefused("port", "Must use the https port (443).")
    if not host_allowed(host):
        raise EndpointRefused("host_not_allowed", f"{host} is not a known push service.")
    return Endpoint(url, host, port)
