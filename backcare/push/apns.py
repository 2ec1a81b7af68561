"""Apple Push Notification service for the iOS app: the transport for `apns` devices (APNSDevice rows).

Token-based: an ES256 provider token (PyJWT) signed with the team's .p8 key, kid = key id, iss = team id,
made once and reused for up to 50 minutes (Apple refuses one older than an hour and throttles a sender that
makes them more often than every 20 minutes). HTTP/2 is what APNs speaks: httpx with its h2 support, one
client (one TLS connection, kept open) per sender thread. Not one client shared by the threads: httpcore's
HTTP/2 connection is not safe for concurrent streams from several threads (h2's stream table is changed
by a reader while a writer opens a stream: KeyError, seen under the stand-in), and Apple recommends several
connections for throughput anyway.

Why not django-push-notifications' send path (aioapns): it is asyncio only, and the library runs one event
loop and opens a new connection per message from our sender threads; its hosts are fixed to Apple's (no
local stand-in). BACKCARE_APNS_HOST points this one at the test stand-in; otherwise the sandbox or the
production host, by BACKCARE_APNS_SANDBOX.

The request: apns-topic (the bundle id), apns-push-type alert, apns-priority 10 for safety reminders (5
otherwise), apns-expiration = now + the reminder's TTL, apns-collapse-id = the slot (hashed past 64 bytes);
the body is `aps` (alert title and body, sound, thread-id and category = the reminder's kind, a
time-sensitive interruption level for safety reminders) beside the payload's own keys. Answers: 200 sent;
410 (Unregistered) gone, the device is deactivated; 429 and 5xx retried (Retry-After honoured);
ExpiredProviderToken: a new token, retried; a refused key, team or topic: alerts.py (once, /healthz, rest);
other 4xx (BadDeviceToken, DeviceTokenNotForTopic, PayloadTooLarge...) fail without deactivating: a token
from the other environment would otherwise switch off every phone at once.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from backcare.push.alerts import CredentialGuard, fingerprint_of
from backcare.push.native import collapse_id, secret_text, timeouts
from backcare.push.transports import Transport, TransportError, retry_after_seconds
from backcare.push.vapid import push_tls_verify

PRODUCTION_HOST = "api.push.apple.com"
SANDBOX_HOST = "api.sandbox.push.apple.com"
TOKEN_REUSE_SECONDS = 50 * 60
MAX_PAYLOAD = 4096
# Refusals of the sender, not of one device: every message would get them.
_REFUSED = frozenset(
    {
        "InvalidProviderToken",
        "MissingProviderToken",
        "Forbidden",
        "BadCertificate",
        "BadCertificateEnvironment",
        "BadEnvironmentKeyIdInToken",
        "UnrelatedKeyIdInToken",
        "TopicDisallowed",
        "BadTopic",
        "MissingTopic",
    }
)


@dataclass(frozen=True)
class ApnsConfig:
    key: ec.EllipticCurvePrivateKey
    key_id: str
    team_id: str
    topic: str
    base_url: str
    fingerprint: str


def apns_configured() -> bool:
    return bool((getattr(settings, "BACKCARE_APNS_KEY", "") or "").strip())


def apns_config() -> ApnsConfig | None:
    """The configuration in force; None when APNs is off. An incomplete or unreadable one raises
    ImproperlyConfigured."""
    if not apns_configured():
        return None
    host = settings.BACKCARE_APNS_HOST or (SANDBOX_HOST if settings.BACKCARE_APNS_SANDBOX else PRODUCTION_HOST)
    return _config(
        settings.BACKCARE_APNS_KEY,
        settings.BACKCARE_APNS_KEY_ID,
        settings.BACKCARE_APNS_TEAM_ID,
        settings.BACKCARE_APNS_TOPIC,
        host,
    )


@lru_cache(maxsize=8)
def _config(key_setting: str, key_id: str, team_id: str, topic: str, host: str) -> ApnsConfig:
    missing = [
        name
        for name, value in (
            ("BACKCARE_APNS_KEY_ID", key_id),
            ("BACKCARE_APNS_TEAM_ID", team_id),
            ("BACKCARE_APNS_TOPIC", topic),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(f"APNs needs {', '.join(missing)} besides BACKCARE_APNS_KEY")
    text = secret_text(key_setting, name="BACKCARE_APNS_KEY", starts="-----BEGIN")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except ValueError:
        raise ImproperlyConfigured("BACKCARE_APNS_KEY is not a PEM private key (the .p8 file)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ImproperlyConfigured("BACKCARE_APNS_KEY is not a P-256 key (the .p8 file APNs gives)")
    return ApnsConfig(
        key, key_id, team_id, topic, f"https://{host}", fingerprint_of("apns", text, key_id, team_id, topic, host)
    )


def apns_request(token: str, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> tuple[dict, bytes]:
    """Headers (without authorization and topic) and body for one device."""
    high = urgency == "high"
    aps: dict = {
        "alert": {"title": str(payload.get("title") or ""), "body": str(payload.get("body") or "")},
        "sound": "default",
    }
    if payload.get("kind"):
        aps["thread-id"] = aps["category"] = str(payload["kind"])
    if high:
        aps["interruption-level"] = "time-sensitive"
    extra = {k: v for k, v in payload.items() if k not in ("title", "body", "aps") and v is not None}
    body = json.dumps({"aps": aps, **extra}, separators=(",", ":")).encode()
    headers = {
        "apns-push-type": "alert",
        "apns-priority": "10" if high else "5",
        "apns-expiration": str(int(time.time()) + max(0, int(ttl))),
        "apns-collapse-id": collapse_id(collapse_key),
    }
    return headers, body


class APNSTransport(Transport):
    device_type = "apns"

    def __init__(self) -> None:
        self.guard = CredentialGuard("apns")
        self._lock = threading.Lock()
        self._local = threading.local()  # this thread's (key, client)
        self._clients: list[httpx.Client] = []  # every thread's, to close them
        self._token: tuple[str, str, float] | None = None  # (fingerprint, jwt, time.monotonic() made)
        self.tokens_made = 0  # provider tokens signed by this process (tests, bench)

    def reset(self) -> None:
        """Forget the client, the provider token and a resting state (tests)."""
        self.guard.reset()
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()
            self._local = threading.local()
            self._token = None
            self.tokens_made = 0

    def push(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> int:
        try:
            config = apns_config()
        except ImproperlyConfigured as exc:
            raise self.guard.refused(fingerprint_of("apns", settings.BACKCARE_APNS_KEY), str(exc)) from exc
        if config is None:
            raise TransportError("APNs is not configured on this server", permanent=True)
        resting = self.guard.resting(config.fingerprint)
        if resting is not None:
            raise resting
        headers, body = apns_request(
            device.registration_id, payload, collapse_key=collapse_key, ttl=ttl, urgency=urgency
        )
        if len(body) > MAX_PAYLOAD:
            raise TransportError(f"payload of {len(body)} bytes is over APNs' {MAX_PAYLOAD}", permanent=True)
        headers |= {"authorization": f"bearer {self._provider_token(config)}", "apns-topic": config.topic}
        url = f"{config.base_url}/3/device/{device.registration_id}"
        try:
            response = self._http(config).post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        return self._answer(config, response)

    def _http(self, config: ApnsConfig) -> httpx.Client:
        verify = push_tls_verify()
        key = (os.getpid(), config.base_url, verify)
        mine = getattr(self._local, "client", None)
        if mine is not None and mine[0] == key and not mine[1].is_closed:
            return mine[1]
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        connect, read = timeouts()
        timeout = httpx.Timeout(read, connect=connect)
        client = httpx.Client(http2=True, verify=context, timeout=timeout, trust_env=False)
        with self._lock:
            self._clients.append(client)
        self._local.client = (key, client)
        return client

    def _provider_token(self, config: ApnsConfig) -> str:
        with self._lock:
            now = time.monotonic()
            if (
                self._token is None
                or self._token[0] != config.fingerprint
                or now - self._token[2] > TOKEN_REUSE_SECONDS
            ):
                token = jwt.encode(
                    {"iss": config.team_id, "iat": int(time.time())},
                    config.key,
                    algorithm="ES256",
                    headers={"kid": config.key_id},
                )
                self._token = (config.fingerprint, token, now)
                self.tokens_made += 1
            return self._token[1]

    def _forget_token(self) -> None:
        with self._lock:
            self._token = None

    def _answer(self, config: ApnsConfig, response: httpx.Response) -> int:
        code = response.status_code
        if code == 200:
            self.guard.accepted(config.fingerprint)
            return code
        try:
            reason = str(response.json().get("reason") or "")
        except (ValueError, AttributeError):
            reason = ""
        text = f"{code} {reason}".strip()
        if code == 410:
            raise TransportError(f"device token gone ({text})", permanent=True, status_code=410)
        if code == 429 or code >= 500:
            raise TransportError(
                text, status_code=code, retry_after=retry_after_seconds(response.headers.get("retry-after"))
            )
        if reason == "ExpiredProviderToken":
            self._forget_token()
            raise TransportError(text, status_code=code)
        if reason in _REFUSED or code == 403:
            self._forget_token()
            raise self.guard.refused(config.fingerprint, text)
        raise TransportError(text, permanent=True, status_code=code)
