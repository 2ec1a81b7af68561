"""Firebase Cloud Messaging (HTTP v1) for the Android app: the transport for `fcm` devices (GCMDevice rows).

Why not django-push-notifications' send path (firebase-admin): its send URL is fixed to Google's (no local
stand-in without patching the library), it pulls in the whole Firebase SDK for one POST, and its answers
come back as library exceptions. What is hard is done by google-auth, Google's own library: the service
account's JWT is signed with its key and exchanged at the token endpoint (the JSON's `token_uri`, or
BACKCARE_FCM_TOKEN_URL), and the access token is kept until shortly before it expires (one exchange an hour
per process, under a lock, whatever the number of sender threads). The POST itself is one request on a
pooled session.

The message: `data` carries the reminder payload (FCM data values are strings: others as JSON), a
`notification` (title, body) so the system shows it even when the app is not running, and `android`: the
slot as `collapse_key` and notification `tag` (a resend replaces itself), `ttl`, priority HIGH for safety
reminders. Answers, as the WebPush ledger has them: 200 sent; UNREGISTERED (404) gone, the device is
deactivated; 429 and 5xx retried, Retry-After honoured; 401/403 or a token endpoint that refuses the key:
the credentials are refused (alerts.py: one log line, /healthz fails, the transport rests); other 4xx fail.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import google.auth.exceptions
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

from backcare.push.alerts import CredentialGuard, fingerprint_of
from backcare.push.native import collapse_id, secret_text, timeouts
from backcare.push.transports import Transport, TransportError, retry_after_seconds
from backcare.push.vapid import push_tls_verify

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_REFUSED = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED", "THIRD_PARTY_AUTH_ERROR"})


@dataclass(frozen=True)
class FcmConfig:
    info: dict
    project_id: str
    send_url: str
    fingerprint: str


def fcm_configured() -> bool:
    return bool((getattr(settings, "BACKCARE_FCM_CREDENTIALS", "") or "").strip())


def fcm_config() -> FcmConfig | None:
    """The configuration in force; None when FCM is off. A malformed one raises ImproperlyConfigured."""
    if not fcm_configured():
        return None
    return _config(
        settings.BACKCARE_FCM_CREDENTIALS,
        settings.BACKCARE_FCM_PROJECT_ID,
        settings.BACKCARE_FCM_SEND_URL,
        settings.BACKCARE_FCM_TOKEN_URL,
    )


@lru_cache(maxsize=8)
def _config(credentials: str, project_id: str, send_url: str, token_url: str) -> FcmConfig:
    text = secret_text(credentials, name="BACKCARE_FCM_CREDENTIALS", starts="{")
    try:
        info = json.loads(text)
    except ValueError:
        raise ImproperlyConfigured("BACKCARE_FCM_CREDENTIALS is not JSON (a service-account key file)") from None
    missing = [k for k in ("client_email", "private_key", "token_uri") if not (isinstance(info, dict) and info.get(k))]
    if missing:
        raise ImproperlyConfigured(f"BACKCARE_FCM_CREDENTIALS lacks {', '.join(missing)}")
    if token_url:
        info = {**info, "token_uri": token_url}
    project = project_id or info.get("project_id") or ""
    if not project:
        raise ImproperlyConfigured("FCM needs a project id: BACKCARE_FCM_PROJECT_ID or project_id in the JSON")
    url = send_url.format(project_id=project)
    return FcmConfig(info, project, url, fingerprint_of("fcm", text, project, url, info["token_uri"]))


def fcm_message(token: str, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> dict:
    """The HTTP v1 request body for one device."""
    key = collapse_id(collapse_key)
    data = {
        k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        for k, v in payload.items()
        if v is not None
    }
    android = {
        "collapse_key": key,
        "ttl": f"{max(0, int(ttl))}s",
        "priority": "HIGH" if urgency == "high" else "NORMAL",
        "notification": {"tag": key},
    }
    message = {"token": token, "data": data, "android": android}
    if payload.get("title"):
        message["notification"] = {"title": str(payload["title"]), "body": str(payload.get("body") or "")}
    return {"message": message}


class _Session:
    """One requests.Session per process (rebuilt after a fork), for the token endpoint and the sends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._session: requests.Session | None = None

    def get(self) -> requests.Session:
        key = (os.getpid(), push_tls_verify())
        if self._key != key:
            with self._lock:
                if self._key != key:
                    session = requests.Session()
                    session.trust_env = False  # no proxy variable may route a push elsewhere
                    session.verify = key[1]
                    adapter = HTTPAdapter(pool_maxsize=32, max_retries=0)
                    session.mount("https://", adapter)
                    self._session, self._key = session, key
        return self._session

    def reset(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
            self._session, self._key = None, None


class FCMTransport(Transport):
    device_type = "fcm"

    def __init__(self) -> None:
        self.guard = CredentialGuard("fcm")
        self.session = _Session()
        self._lock = threading.Lock()
        self._credentials: dict[str, tuple[service_account.Credentials, threading.Lock]] = {}
        self.token_exchanges = 0  # how many access tokens this process fetched (tests, bench)

    def reset(self) -> None:
        """Forget tokens, sessions and a resting state (tests)."""
        self.guard.reset()
        self.session.reset()
        with self._lock:
            self._credentials.clear()
            self.token_exchanges = 0

    def push(self, device, payload: dict, *, collapse_key: str, ttl: int, urgency: str) -> int:
        try:
            config = fcm_config()
        except ImproperlyConfigured as exc:
            raise self.guard.refused(fingerprint_of("fcm", settings.BACKCARE_FCM_CREDENTIALS), str(exc)) from exc
        if config is None:
            raise TransportError("FCM is not configured on this server", permanent=True)
        resting = self.guard.resting(config.fingerprint)
        if resting is not None:
            raise resting
        token = self._access_token(config)
        body = fcm_message(device.registration_id, payload, collapse_key=collapse_key, ttl=ttl, urgency=urgency)
        try:
            response = self.session.get().post(
                config.send_url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=timeouts()
            )
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        return self._answer(config, response)

    def _access_token(self, config: FcmConfig) -> str:
        with self._lock:
            if config.fingerprint not in self._credentials:
                try:
                    credentials = service_account.Credentials.from_service_account_info(config.info, scopes=[SCOPE])
                except (ValueError, KeyError) as exc:
                    raise self.guard.refused(config.fingerprint, f"unusable service-account key: {exc}") from exc
                self._credentials[config.fingerprint] = (credentials, threading.Lock())
            credentials, lock = self._credentials[config.fingerprint]
        with lock:  # one exchange at a time; the other threads wait for its token (or its refusal)
            resting = self.guard.resting(config.fingerprint)
            if resting is not None:
                raise resting
            if not credentials.valid:
                try:
                    credentials.refresh(GoogleRequest(self.session.get()))
                except google.auth.exceptions.RefreshError as exc:
                    if getattr(exc, "retryable", False):
                        raise TransportError(f"token endpoint: {exc}"[:500]) from exc
                    raise self.guard.refused(config.fingerprint, f"token endpoint refused the key: {exc}") from exc
                except google.auth.exceptions.TransportError as exc:
                    raise TransportError(f"token endpoint unreachable: {exc}"[:500]) from exc
                self.token_exchanges += 1
            return credentials.token

    def _forget_token(self, config: FcmConfig) -> None:
        with self._lock:
            self._credentials.pop(config.fingerprint, None)

    def _answer(self, config: FcmConfig, response: requests.Response) -> int:
        code = response.status_code
        if code == 200:
            self.guard.accepted(config.fingerprint)
            return code
        status, error_code, message = _error_of(response)
        text = f"{code} {error_code or status} {message}".strip()[:500]
        if error_code == "UNREGISTERED":
            raise TransportError(f"token unregistered ({text})", permanent=True, status_code=404)
        if code == 404:  # no FCM answer: a wrong send URL or project, the same for every message
            raise self.guard.refused(config.fingerprint, text)
        if code == 429 or code >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransportError(text, status_code=code, retry_after=retry_after)
        if error_code != "SENDER_ID_MISMATCH" and (code in (401, 403) or status in _REFUSED):
            self._forget_token(config)
            raise self.guard.refused(config.fingerprint, text)
        # INVALID_ARGUMENT, SENDER_ID_MISMATCH...: this message or token will never be taken; the device is
        # not deactivated (a wrong project id would otherwise switch off every phone at once).
        raise TransportError(text, permanent=True, status_code=code)


def _error_of(response: requests.Response) -> tuple[str, str, str]:
    """(status, FCM errorCode, message) from an HTTP v1 error body; empty strings where absent."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return "", "", (response.text or "")[:200]
    if not isinstance(error, dict):
        return "", "", str(error)[:200]
    codes = [d.get("errorCode") for d in error.get("details") or [] if isinstance(d, dict) and d.get("errorCode")]
    return str(error.get("status") or ""), str(codes[0] if codes else ""), str(error.get("message") or "")[:200]
