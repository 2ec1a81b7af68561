"""Push transports: one class per push service, beside the devices they send to (backcare/push/devices.py).

Each transport's `push()` posts one message and raises TransportError when the service refuses or the
network fails, saying whether retrying could help (`permanent`, as in healthchecks' hc/api/transports.py).
`send()` turns that into an Outcome(status_code, permanent, retry_after, error) and never raises for a
push-service answer or a network error: the caller decides what a transient answer means for its row
(retry with backoff), records every attempt, and deactivates a device that is gone. Transports do no
database work (the outbox posts from threads), except FCM's library, which deactivates on its own.

WebPush is the transport that matters here (the PWA). It does not go through
django-push-notifications' `send_message`, which re-signs the VAPID token and opens a new
connection for every message, drops TTL and headers, and rewrites a registration that is not an
https URL onto a public push service. Instead: pywebpush's `WebPusher` encrypts (aes128gcm), one
process-wide requests.Session (trust_env off, pool sized to the send threads) posts, and the VAPID
header comes from backcare.push.vapid, signed once per push-service origin.

FCM and APNs (the wrapped apps) live in backcare/push/fcm.py and backcare/push/apns.py; this module
only lists them in the registry (`transport_for`).
"""

import base64
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pywebpush import WebPusher, WebPushException

from backcare.push import http as push_http
from backcare.push.endpoints import EndpointRefused, endpoint_parse
from backcare.push.vapid import push_tls_verify, vapid_headers_for

logger = logging.getLogger(__name__)

SENT_CODES = frozenset({200, 201, 202})
DEVICE_GONE = "device inactive or removed"
GONE_CODES = frozenset({404, 410})
# Never wait longer than this for a push service that asks for more (a Retry-After of a day).
RETRY_AFTER_MAX = 3600.0
# Reason codes: what a client may be told about a push that did not go through. The words (`error`: a
# push service's body, a network error's text) go to the server log and the delivery ledger only.
REASONS = (
    "sent",
    "gone",  # the push service says the subscription no longer exists (404/410)
    "timeout",  # the push did not finish within its total deadline
    "refused_address",  # the host resolves to an address a push may not go to (private, loopback, ...)
    "refused_endpoint",  # the endpoint URL itself is refused (see backcare/push/endpoints.py)
    "redirect",  # the push service answered 3xx (never followed)
    "throttled",  # 429
    "http_4xx",
    "http_5xx",
    "network",  # could not connect, TLS failed, connection reset
    "bad_keys",  # the subscription's keys do not encrypt
    "not_configured",  # this server cannot send to this kind of device
    "failed",  # anything else
)


def reason_for(status_code: int | None) -> str:
    if status_code in SENT_CODES:
        return "sent"
    if status_code in GONE_CODES:
        return "gone"
    if status_code == 429:
        return "throttled"
    if status_code and 300 <= status_code < 400:
        return "redirect"
    if status_code and status_code >= 500:
        return "http_5xx"
    if status_code and status_code >= 400:
        return "http_4xx"
    return "failed"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    permanent: bool
    retry_after: float | None = None
    error: str = ""
    reason: str = ""  # one of REASONS; derived from the status code when not given

    @property
    def reason_code(self) -> str:
        if self.ok:
            return "sent"
        return self.reason or reason_for(self.status_code)

    @property
    def ok(self) -> bool:
        return self.status_code in SENT_CODES and not self.error

    @property
    def gone(self) -> bool:
        return self.status_code in GONE_CODES


class TransportError(Exception):
    """The push service refused, or could not be reached. `permanent`: sending again cannot help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status_code: int | None = None,
        retry_after=None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.message, self.permanent, self.status_code, self.retry_after = message, permanent, status_code, retry_after
        self.reason = reason

    def outcome(self) -> Outcome:
        return Outcome(self.status_code, self.permanent, self.retry_after, self.message, self.reason)


def topic_for(collapse_key: str) -> str:
    """A WebPush Topic from a collapse key: at most 32 characters of the URL-safe base64 alphabet.

    Slots hold ':' and '+' (movement:2025-03-01T10:30:00+00:00), which a Topic may not; 24 bytes of
    a SHA-256 encode to exactly 32 characters with no padding.
    """
    digest = hashlib.sha256(collapse_key.encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def send_threads() -> int:
    return max(1, int(getattr(settings, "BACKCARE_SEND_THREADS", 16)))


# --- the HTTP session, the deadline, reason codes ----------------------------------------------------


def http_session() -> requests.Session:
    """The process's shared session (backcare/push/http.py: connections that check their addresses)."""
    return push_http.http_session(pool_size=send_threads())


http_session_reset = push_http.http_session_reset


def _timeout() -> tuple[float, float]:
    connect, read = getattr(settings, "BACKCARE_PUSH_TIMEOUT", (5.0, 10.0))
    return float(connect), float(read)


def push_deadline() -> float:
    """The total time one push may take (connect, TLS, send, answer): BACKCARE_PUSH_DEADLINE seconds."""
    return float(getattr(settings, "BACKCARE_PUSH_DEADLINE", 10.0))


def status_class(status_code: int | None) -> str | None:
    """'2xx', '4xx', ... for the API (never the push service's words)."""
    return f"{status_code // 100}xx" if status_code else None


# --- transports ------------------------------------------------------------------------------


class Transport:
    device_type = ""

    def send(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str = "normal") -> Outcome:
        """Post one message; the push service's answer (or the network's failure) as an Outcome."""
        try:
            status_code = self.push(device, payload, collapse_key=collapse_key, ttl=ttl, urgency=urgency)
        except TransportError as exc:
            return exc.outcome()
        return Outcome(status_code, False)

    def push(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> int:
        """Post one message and return the success status code, or raise TransportError."""
        raise NotImplementedError


class WebPushTransport(Transport):
    device_type = "webpush"

    def push(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> int:
        endpoint = self._endpoint(device)
        body = self._encrypt(device, endpoint, payload)
        headers = {
            **self._authorization(endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(max(1, int(ttl))),
            "Topic": topic_for(collapse_key),
            "Urgency": urgency,
        }
        # One total deadline for the whole post; redirects are never followed (a 3xx is an answer).
        with push_http.deadline(push_deadline()) as limit:
            try:
                response = http_session().post(
                    endpoint,
                    data=body,
                    headers=headers,
                    timeout=_timeout(),
                    verify=push_tls_verify(),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise self._failure(exc, limit) from exc
        if limit.expired:
            # Cut at the deadline: a status line read up to the cut parses as an answer; it is not one.
            raise TransportError(f"no complete answer within {limit.seconds:g} s", reason="timeout")
        # Not streamed: the body is read and the connection back in the pool already.
        return self._answer(response)

    @staticmethod
    def _failure(exc: requests.RequestException, limit: push_http.Deadline) -> TransportError:
        """Retried later (like a 5xx), whatever it was; the reason says which kind of failure."""
        detail = f"{type(exc).__name__}: {exc}"[:500]
        if limit.refused:
            return TransportError(f"refused address: {limit.refused}", reason="refused_address")
        if limit.expired or isinstance(exc, requests.Timeout):
            return TransportError(f"no answer within {limit.seconds:g} s ({detail})", reason="timeout")
        return TransportError(detail, reason="network")

    @staticmethod
    def _endpoint(device) -> str:
        try:
            # The devices API's own parser: what it checked is what is posted to.
            return endpoint_parse(device.registration_id or "").url
        except EndpointRefused as exc:
            # django-push-notifications would rewrite a bare id onto a public push URL; never send it.
            raise TransportError(
                f"endpoint refused: {exc.message}", permanent=True, reason="refused_endpoint"
            ) from None

    @staticmethod
    def _encrypt(device, endpoint: str, payload: dict) -> bytes:
        try:
            pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}})
            return pusher.encode(json.dumps(payload, separators=(",", ":")).encode(), "aes128gcm")["body"]
        except (WebPushException, ValueError, TypeError, IndexError) as exc:
            raise TransportError(f"bad subscription keys: {exc}", permanent=True, reason="bad_keys") from exc

    @staticmethod
    def _authorization(endpoint: str) -> dict[str, str]:
        try:
            # Signed once per push-service origin and cached (a token lives 12 h).
            return vapid_headers_for(endpoint)
        except ImproperlyConfigured as exc:
            # An operator's error, not the device's: retried, so a fixed key still delivers.
            raise TransportError(f"push not configured: {exc}", reason="not_configured") from exc

    @staticmethod
    def _answer(response: requests.Response) -> int:
        code = response.status_code
        if code in SENT_CODES:
            return code
        text = (response.text or "")[:300]
        if code in GONE_CODES:
            # The caller deactivates the device (senders run in threads that do no database work).
            raise TransportError(f"subscription gone ({code})", permanent=True, status_code=code)
        if code == 429 or code >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransportError(f"{code} {text}", status_code=code, retry_after=retry_after)
        if 300 <= code < 400:
            where = response.headers.get("Location", "")[:200]
            raise TransportError(f"{code} redirect to {where!r} not followed", permanent=True, status_code=code)
        raise TransportError(f"{code} {text}".strip(), permanent=True, status_code=code)


_TRANSPORTS: dict[str, Transport] = {}
_transports_lock = threading.Lock()


def transport_for(device_type: str) -> Transport | None:
    if not _TRANSPORTS:
        with _transports_lock:  # built on first use: the FCM and APNs modules import this one
            if not _TRANSPORTS:
                from backcare.push.apns import APNSTransport
                from backcare.push.fcm import FCMTransport

                _TRANSPORTS.update({t.device_type: t for t in (WebPushTransport(), FCMTransport(), APNSTransport())})
    return _TRANSPORTS.get(device_type)
