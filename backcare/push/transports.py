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

FCM and APNS go through django-push-notifications' send paths, which need the `firebase-admin`
and `aioapns` extras; without them (the case in this project) they answer a permanent
"transport not configured".
"""

import base64
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from pywebpush import WebPusher, WebPushException
from requests.adapters import HTTPAdapter

from backcare.push.vapid import push_tls_verify, vapid_headers_for

logger = logging.getLogger(__name__)

SENT_CODES = frozenset({200, 201, 202})
DEVICE_GONE = "device inactive or removed"
GONE_CODES = frozenset({404, 410})
# Never wait longer than this for a push service that asks for more (a Retry-After of a day).
RETRY_AFTER_MAX = 3600.0


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    permanent: bool
    retry_after: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code in SENT_CODES and not self.error

    @property
    def gone(self) -> bool:
        return self.status_code in GONE_CODES


class TransportError(Exception):
    """The push service refused, or could not be reached. `permanent`: sending again cannot help."""

    def __init__(
        self, message: str, *, permanent: bool = False, status_code: int | None = None, retry_after=None
    ) -> None:
        super().__init__(message)
        self.message, self.permanent, self.status_code, self.retry_after = message, permanent, status_code, retry_after

    def outcome(self) -> Outcome:
        return Outcome(self.status_code, self.permanent, self.retry_after, self.message)


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


# --- one HTTP session per process ------------------------------------------------------------

_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid: int | None = None


def http_session() -> requests.Session:
    """The process's shared session. Rebuilt after a fork (Celery's prefork children)."""
    global _session, _session_pid
    pid = os.getpid()
    if _session is not None and _session_pid == pid:
        return _session
    with _session_lock:
        if _session is None or _session_pid != pid:
            session = requests.Session()
            # No proxy variables scanned per request, and none may route a push elsewhere.
            session.trust_env = False
            threads = send_threads()
            adapter = HTTPAdapter(pool_connections=32, pool_maxsize=threads, max_retries=0)
            session.mount("https://", adapter)
            # Plain HTTP is refused before any request; make it fail loudly if it ever got here.
            session.mount("http://", _RefuseAdapter())
            _session, _session_pid = session, pid
    return _session


class _RefuseAdapter(HTTPAdapter):
    def send(self, request, *args, **kwargs):
        raise requests.exceptions.InvalidURL(f"refusing plain-HTTP push endpoint {request.url!r}")


def http_session_reset() -> None:
    """Drop the pooled connections (tests: a receiver went away)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
        _session = None


def endpoint_host_allowed(host: str) -> bool:
    """BACKCARE_PUSH_ENDPOINT_HOSTS again at send time: a row that got past the devices API (or a list
    narrowed since) is never posted to ('.example.com' allows any subdomain)."""
    host = (host or "").lower().rstrip(".")
    for entry in getattr(settings, "BACKCARE_PUSH_ENDPOINT_HOSTS", ()):
        entry = entry.lower()
        if host == entry or (entry.startswith(".") and host.endswith(entry)):
            return True
    return False


def _timeout() -> tuple[float, float]:
    connect, read = getattr(settings, "BACKCARE_PUSH_TIMEOUT", (5.0, 10.0))
    return float(connect), float(read)


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
        try:
            response = http_session().post(
                endpoint, data=body, headers=headers, timeout=_timeout(), verify=push_tls_verify()
            )
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        # Not streamed: the body is read and the connection back in the pool already.
        return self._answer(response)

    @staticmethod
    def _endpoint(device) -> str:
        endpoint = device.registration_id or ""
        parts = urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname:
            # django-push-notifications would rewrite this onto a public push URL; never send it.
            raise TransportError("endpoint is not an https URL", permanent=True)
        if not endpoint_host_allowed(parts.hostname):
            raise TransportError(f"endpoint host {parts.hostname!r} is not an allowed push service", permanent=True)
        return endpoint

    @staticmethod
    def _encrypt(device, endpoint: str, payload: dict) -> bytes:
        try:
            pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}})
            return pusher.encode(json.dumps(payload, separators=(",", ":")).encode(), "aes128gcm")["body"]
        except (WebPushException, ValueError, TypeError, IndexError) as exc:
            raise TransportError(f"bad subscription keys: {exc}", permanent=True) from exc

    @staticmethod
    def _authorization(endpoint: str) -> dict[str, str]:
        try:
            # Signed once per push-service origin and cached (a token lives 12 h).
            return vapid_headers_for(endpoint)
        except ImproperlyConfigured as exc:
            # An operator's error, not the device's: retried, so a fixed key still delivers.
            raise TransportError(f"push not configured: {exc}") from exc

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
        raise TransportError(f"{code} {text}".strip(), permanent=True, status_code=code)


class _NotConfigured(Transport):
    extra = ""

    def _not_configured(self) -> TransportError:
        return TransportError(f"transport not configured (install {self.extra})", permanent=True)


class FCMTransport(_NotConfigured):
    """Firebase Cloud Messaging via django-push-notifications, which needs firebase-admin."""

    device_type = "fcm"
    extra = "django-push-notifications[FCM] (firebase-admin)"

    def push(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> int:
        try:
            from push_notifications.gcm import dict_to_fcm_message
            from push_notifications.gcm import send_message as fcm_send
        except ImportError:
            raise self._not_configured() from None
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items() if v is not None}
        message = dict_to_fcm_message(
            data,
            collapse_key=topic_for(collapse_key),
            time_to_live=max(1, int(ttl)),
            priority="high" if urgency == "high" else "normal",
        )
        try:
            batch = fcm_send(device.registration_id, message, application_id=device.application_id)
        except Exception as exc:  # noqa: BLE001 - firebase-admin raises many types; all are retried
            raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        response = batch.responses[0] if batch and batch.responses else None
        if response is not None and response.success:
            return 200
        error = str(getattr(response, "exception", "no response"))
        # fcm_send deactivated the device if FCM called the token unregistered or invalid.
        device.refresh_from_db(fields=["active"])
        raise TransportError(error[:500], permanent=not device.active)


class APNSTransport(_NotConfigured):
    """Apple Push Notification service via django-push-notifications, which needs aioapns."""

    device_type = "apns"
    extra = "django-push-notifications[APNS] (aioapns)"
    PERMANENT = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})

    def push(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> int:
        try:
            from push_notifications.apns_async import apns_send_message
        except ImportError:
            raise self._not_configured() from None
        extra = {k: v for k, v in payload.items() if k not in ("title", "body")}
        try:
            result = apns_send_message(
                device.registration_id,
                f"{payload.get('title', '')}: {payload.get('body', '')}",
                application_id=device.application_id,
                extra=extra,
                expiration=int(time.time()) + max(1, int(ttl)),
                priority=10 if urgency == "high" else 5,
                collapse_id=topic_for(collapse_key),
                thread_id=payload.get("kind"),
            )
        except Exception as exc:  # noqa: BLE001 - aioapns raises many types; all are retried
            raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        first = (result or {}).get("results", [None])[0]
        if first == "Success":
            return 200
        error = str(first.get("error") if isinstance(first, dict) else first)
        permanent = error in self.PERMANENT
        # Told as a 410, so the caller deactivates the device like a gone WebPush subscription.
        raise TransportError(error[:500], permanent=permanent, status_code=410 if permanent else None)


TRANSPORTS: dict[str, Transport] = {t.device_type: t for t in (WebPushTransport(), FCMTransport(), APNSTransport())}


def transport_for(device_type: str) -> Transport | None:
    return TRANSPORTS.get(device_type)


# --- a test notification, now ----------------------------------------------------------------

TEST_PAYLOAD = {
    "title": "Notifications are on",
    "body": "backcare reminders will appear like this.",
    "tag": "test",
    "kind": "test",
    "reminder_id": None,
    "ack_token": None,  # nosec B105  # a payload field name, not a secret (the test push has no token)
    "actions": [],
    "url": "/",
}


@dataclass(frozen=True)
class Tried:
    """How a test push to one device went."""

    device_type: str
    device_id: int
    outcome: Outcome
    duration_ms: int


def push_test(*, devices: list[tuple[str, Model]]) -> list[Tried]:
    """Send a test notification to each (type, device) now; network only (the caller deactivates gone ones)."""
    results = []
    for device_type, device in devices:
        transport = transport_for(device_type)
        if transport is None:
            continue
        started = time.monotonic()
        outcome = transport.send(device, dict(TEST_PAYLOAD), collapse_key="test", ttl=60)
        results.append(Tried(device_type, device.pk, outcome, int((time.monotonic() - started) * 1000)))
        logger.info("push test to %s:%s -> %s %s", device_type, device.pk, outcome.status_code, outcome.error)
    return results
