"""The client's address: one function, used by sign-in delays, DRF throttles and the access log alike.

Behind a reverse proxy every request comes from the proxy's address, and X-Forwarded-For is whatever
the client (or an attacker) wrote, followed by what each proxy appended. Only the entries appended by
proxies we run can be believed, so BACKCARE_TRUSTED_PROXIES says which those are:

- a number n (e.g. "1" behind one TLS proxy): the last n hops are ours; the client is the entry just
  before them;
- addresses or networks ("127.0.0.1,10.1.0.0/16"): walking from the peer leftwards, every hop in the
  list is ours; the first one that is not is the client;
- unset or "0": no proxy; the peer address (REMOTE_ADDR) is the client and X-Forwarded-For is ignored.
"""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    count: int = 0
    networks: tuple[Network, ...] = ()

    def trusts(self, address: str, *, hop: int) -> bool:
        """Whether the hop-th address from the peer (0 = the peer) is one of our proxies."""
        if self.networks:
            parsed = _parse(address)
            return parsed is not None and any(parsed in network for network in self.networks)
        return hop < self.count


def trusted_proxies_parse(raw: str) -> TrustedProxies:
    """BACKCARE_TRUSTED_PROXIES: a count, or a comma-separated list of addresses and networks."""
    raw = raw.strip()
    if not raw:
        return TrustedProxies()
    if raw.isdigit():
        return TrustedProxies(count=int(raw))
    try:
        networks = tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"BACKCARE_TRUSTED_PROXIES={raw!r}: give a number of proxies or their addresses ({exc})"
        ) from None
    return TrustedProxies(networks=networks)


@lru_cache(maxsize=8)
def _proxies(raw: str) -> TrustedProxies:
    return trusted_proxies_parse(raw)


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is the same client.
    return parsed.ipv4_mapped or parsed if isinstance(parsed, ipaddress.IPv6Address) else parsed


def client_address(request: HttpRequest) -> str:
    """The address of the client that sent `request`, believing only our own proxies' X-Forwarded-For entries."""
    peer = request.META.get("REMOTE_ADDR", "") or ""
    proxies = _proxies(settings.BACKCARE_TRUSTED_PROXIES)
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    hops = [*forwarded, peer]  # hops[-1] is the peer, hops[-2] what the peer says it got the request from...
    client = peer
    for hop in range(len(hops)):
        address = hops[-1 - hop]
        if not proxies.trusts(address, hop=hop):
            break
        if hop + 1 == len(hops):
            break  # every hop is ours: the leftmost entry is as close to the client as we can know
        candidate = hops[-2 - hop]
        if _parse(candidate) is None:
            break  # garbage where our proxy should have written an address: keep the last hop we trust
        client = candidate
    parsed = _parse(client)
    return str(parsed) if parsed is not None else "0.0.0.0"  # noqa: S104  # nosec B104  # a placeholder key, never bound
