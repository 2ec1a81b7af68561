"""Push transports: one small class per service, each answering with an Outcome.

`send(device, payload, *, collapse_key, ttl)` never raises for a push-service answer or a network
error: it returns Outcome(status_code, permanent, retry_after, error). The caller decides what a
transient answer means for its row (retry with backoff) and records every attempt.

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
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice
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
    device_model: Any = None

    def send(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str = "normal") -> Outcome:
        raise NotImplementedError


class WebPushTransport(Transport):
    device_type = "webpush"
    device_model = WebPushDevice

    def send(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str = "normal") -> Outcome:
        endpoint = device.registration_id or ""
        parts = urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname:
            # django-push-notifications would rewrite this onto a public push URL; never send it.
            return Outcome(None, True, None, "endpoint is not an https URL")
        if not endpoint_host_allowed(parts.hostname):
            return Outcome(None, True, None, f"endpoint host {parts.hostname!r} is not an allowed push service")
        try:
            pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}})
            body = pusher.encode(json.dumps(payload, separators=(",", ":")).encode(), "aes128gcm")["body"]
        except (WebPushException, ValueError, TypeError, IndexError) as exc:
            return Outcome(None, True, None, f"bad subscription keys: {exc}")
        try:
            # Signed once per push-service origin and cached (a token lives 12 h).
            authorization = vapid_headers_for(endpoint)
        except ImproperlyConfigured as exc:
            # An operator's error, not the device's: retried, so a fixed key still delivers.
            return Outcome(None, False, None, f"push not configured: {exc}")
        headers = {
            **authorization,
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
            return Outcome(None, False, None, f"{type(exc).__name__}: {exc}"[:500])
        # Not streamed: the body is read and the connection back in the pool already.
        code = response.status_code
        text = "" if code in SENT_CODES else (response.text or "")[:300]
        if code in SENT_CODES:
            return Outcome(code, False)
        if code in GONE_CODES:
            # The caller deactivates the device (senders run in threads that do no database work).
            return Outcome(code, True, None, f"subscription gone ({code})")
        if code == 429 or code >= 500:
            return Outcome(code, False, retry_after_seconds(response.headers.get("Retry-After")), f"{code} {text}")
        return Outcome(code, True, None, f"{code} {text}".strip())


class _NotConfigured(Transport):
    extra = ""

    def _not_configured(self) -> Outcome:
        return Outcome(None, True, None, f"transport not configured (install {self.extra})")


class FCMTransport(_NotConfigured):
    """Firebase Cloud Messaging via django-push-notifications, which needs firebase-admin."""

    device_type = "fcm"
    device_model = GCMDevice
    extra = "django-push-notifications[FCM] (firebase-admin)"

    def send(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str = "normal") -> Outcome:
        try:
            from push_notifications.gcm import dict_to_fcm_message
            from push_notifications.gcm import send_message as fcm_send
        except ImportError:
            return self._not_configured()
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
            return Outcome(None, False, None, f"{type(exc).__name__}: {exc}"[:500])
        response = batch.responses[0] if batch and batch.responses else None
        if response is not None and response.success:
            return Outcome(200, False)
        error = str(getattr(response, "exception", "no response"))
        # fcm_send deactivated the device if FCM called the token unregistered or invalid.
        device.refresh_from_db(fields=["active"])
        return Outcome(None, not device.active, None, error[:500])


class APNSTransport(_NotConfigured):
    """Apple Push Notification service via django-push-notifications, which needs aioapns."""

    device_type = "apns"
    device_model = APNSDevice
    extra = "django-push-notifications[APNS] (aioapns)"

    def send(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str = "normal") -> Outcome:
        try:
            from push_notifications.apns_async import apns_send_message
        except ImportError:
            return self._not_configured()
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
            return Outcome(None, False, None, f"{type(exc).__name__}: {exc}"[:500])
        first = (result or {}).get("results", [None])[0]
        if first == "Success":
            return Outcome(200, False)
        error = str(first.get("error") if isinstance(first, dict) else first)
        permanent = error in ("BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic")
        return Outcome(410 if permanent else None, permanent, None, error[:500])


TRANSPORTS: dict[str, Transport] = {t.device_type: t for t in (WebPushTransport(), FCMTransport(), APNSTransport())}


def transport_for(device_type: str) -> Transport | None:
    return TRANSPORTS.get(device_type)


def active_devices(*, user_ids) -> list[tuple[int, str, int]]:
    """(user_id, device_type, device_id) of every active device of these users, all transports."""
    rows = []
    for device_type, transport in TRANSPORTS.items():
        rows += [
            (user_id, device_type, pk)
            for user_id, pk in transport.device_model.objects.filter(user_id__in=user_ids, active=True).values_list(
                "user_id", "pk"
            )
        ]
    return rows


def device_deactivate(*, device_type: str, device_id: int) -> bool:
    """A push service said the subscription is gone for good (404/410): stop sending to it anywhere."""
    transport = transport_for(device_type)
    if transport is None:
        return False
    return transport.device_model.objects.filter(pk=device_id, active=True).update(active=False) == 1


def device_get(device_type: str, device_id: int):
    transport = transport_for(device_type)
    if transport is None:
        return None
    return transport.device_model.objects.filter(pk=device_id).first()


# --- a test notification, now ----------------------------------------------------------------

TEST_PAYLOAD = {
    "title": "Notifications are on",
    "body": "backcare reminders will appear like this.",
    "tag": "test",
    "kind": "test",
    "reminder_id": None,
    "ack_token": None,
    "actions": [],
    "url": "/",
}


def push_test(*, user) -> list[dict]:
    """Send a test notification to each of the user's active devices now; one result per device."""
    results = []
    for _user_id, device_type, device_id in active_devices(user_ids=[user.pk]):
        device = device_get(device_type, device_id)
        if device is None:
            continue
        started = time.monotonic()
        outcome = transport_for(device_type).send(device, dict(TEST_PAYLOAD), collapse_key="test", ttl=60)
        if outcome.gone:
            device_deactivate(device_type=device_type, device_id=device_id)
        results.append(
            {
                "device_type": device_type,
                "device_id": device_id,
                "ok": outcome.ok,
                "status_code": outcome.status_code,
                "permanent": outcome.permanent,
                "error": outcome.error,
                "duration_ms": int((time.monotonic() - started) * 1000),
            }
        )
        logger.info("push test to %s:%s -> %s %s", device_type, device_id, outcome.status_code, outcome.error)
    return results
