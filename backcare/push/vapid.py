"""VAPID (RFC 8292): the application server's key pair and the signed ``Authorization`` headers.

Two halves:

* key handling and ``push_settings()`` import nothing from Django at module level, so the settings modules
  call them at start-up (a missing or broken key fails there, loudly, naming the variable);
* ``vapid_private_key()``, ``vapid_public_key_b64()``, ``vapid_headers_for()`` read ``django.conf.settings``
  when called.

A VAPID token may live up to 24 h and is valid for one push-service origin (its ``aud``), so
``vapid_headers_for`` signs once per origin (exp = now + 12 h) and hands out the same header until an hour
before it expires: signing costs about 300 us, which per message would be most of the CPU a send takes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

DEFAULT_SUBJECT = "mailto:ops@backcare.invalid"
TOKEN_LIFETIME = 12 * 3600  # seconds; RFC 8292 allows at most 24 h
TOKEN_RENEW_BEFORE = 3600  # a cached token is replaced this long before its exp
PRIVATE_KEY_SETTING = "BACKCARE_VAPID_PRIVATE_KEY"

_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class VapidKeyError(ValueError):
    """The configured key material cannot be used. The message never contains the key itself."""


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, the encoding of every key in the Push API."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url (padding optional). Standard-alphabet characters (+ /) and junk raise ValueError."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise ValueError("not base64url (impossible length)")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


# --- keys ---------------------------------------------------------------------------------------


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_from_text(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM (PKCS#8 or SEC1; literal ``\\n`` as written in .env files is fine),
    from base64url of the raw 32-byte scalar (what ``vapid --gen``/web-push tools print), or from
    base64url DER (what py-vapid's ``from_string`` takes)."""
    text = (text or "").strip()
    if not text:
        raise VapidKeyError("is empty")
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.replace("\\n", "\n").encode("ascii"), password=None)
        else:
            raw = b64url_decode("".join(text.split()))
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, UnicodeError) as exc:
        # cryptography's messages do not contain key bytes, but keep ours generic anyway.
        raise VapidKeyError("is not a PEM, base64url raw (32 bytes) or base64url DER private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidKeyError("is not an EC P-256 (prime256v1) key, which VAPID requires")
    return key


def private_key_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_key_to_raw_b64(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_b64(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The uncompressed point (65 bytes, 0x04 || X || Y), base64url: the browser's applicationServerKey."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return b64url_encode(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def _subject_ok(subject: str) -> bool:
    # RFC 8292 section 2.1: a mailto: or https: URI the push service can use to reach the operator.
    if subject.startswith("mailto:"):
        return re.fullmatch(r"mailto:[^@\s]+@[^@\s]+", subject) is not None
    parts = urlsplit(subject)
    return parts.scheme == "https" and bool(parts.hostname)


@dataclass(frozen=True)
class PushSettings:
    """Everything the settings modules export about push, derived from one key."""

    private_key: str  # as configured ("" when push is not configured)
    public_key: str  # base64url uncompressed point ("" when not configured)
    subject: str
    library: dict = field(default_factory=dict)  # PUSH_NOTIFICATIONS_SETTINGS for django-push-notifications


def push_settings(*, private_key: str, public_key: str = "", subject: str, required: bool) -> PushSettings:
    """Validate the key material and derive the rest; raise ImproperlyConfigured naming the variable.

    ``required`` (production): a missing key fails. Otherwise an empty key means "push not configured":
    the app starts, and ``vapid_private_key()`` raises when something tries to sign.
    """
    from django.core.exceptions import ImproperlyConfigured  # settings-safe: no app registry needed

    if not _subject_ok(subject):
        raise ImproperlyConfigured(
            f"BACKCARE_VAPID_SUBJECT={subject!r} must be a mailto: address or an https: URL (RFC 8292)"
        )
    library = {
        # The library would rewrite a registration id that is not a full https:// endpoint onto Google's
        # or Mozilla's push URL. The devices API only stores full https endpoints; see test settings too.
        "WP_CLAIMS": {"sub": subject},
        "WP_PRIVATE_KEY": None,
        "WP_ERROR_TIMEOUT": 10,
    }
    if not private_key.strip():
        if required:
            raise ImproperlyConfigured(
                f"{PRIVATE_KEY_SETTING} must be set: an EC P-256 private key (PEM or base64url raw); "
                "create one with `manage.py vapid_keys --ensure <file>`"
            )
        if public_key:
            raise ImproperlyConfigured(f"BACKCARE_VAPID_PUBLIC_KEY is set but {PRIVATE_KEY_SETTING} is not")
        return PushSettings("", "", subject, library)
    try:
        key = private_key_from_text(private_key)
    except VapidKeyError as exc:
        raise ImproperlyConfigured(f"{PRIVATE_KEY_SETTING} {exc}") from None
    derived = public_key_b64(key)
    if public_key and public_key.strip().rstrip("=") != derived:
        raise ImproperlyConfigured(
            f"BACKCARE_VAPID_PUBLIC_KEY does not belong to {PRIVATE_KEY_SETTING} (leave it unset to derive it)"
        )
    # pywebpush takes the raw scalar as a string (a PEM would be taken for a file name and fail).
    library["WP_PRIVATE_KEY"] = private_key_to_raw_b64(key)
    return PushSettings(private_key, derived, subject, library)


# --- at run time ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _parsed(text: str) -> ec.EllipticCurvePrivateKey:
    return private_key_from_text(text)


def vapid_private_key() -> ec.EllipticCurvePrivateKey:
    """The configured key, parsed once (per distinct setting value)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    text = getattr(settings, PRIVATE_KEY_SETTING, "") or ""
    if not text.strip():
        raise ImproperlyConfigured(f"{PRIVATE_KEY_SETTING} is not set: push is not configured")
    try:
        return _parsed(text)
    except VapidKeyError as exc:
        raise ImproperlyConfigured(f"{PRIVATE_KEY_SETTING} {exc}") from None


def vapid_public_key_b64() -> str:
    """The applicationServerKey browsers subscribe with (base64url, 65-byte uncompressed P-256 point)."""
    from django.conf import settings

    return getattr(settings, "BACKCARE_VAPID_PUBLIC_KEY", "") or public_key_b64(vapid_private_key())


def vapid_subject() -> str:
    from django.conf import settings

    return getattr(settings, "BACKCARE_VAPID_SUBJECT", "") or DEFAULT_SUBJECT


def push_tls_verify() -> str | bool:
    """What to pass as ``verify=`` to requests: BACKCARE_PUSH_CA_BUNDLE (tests, benches) or the system CAs."""
    from django.conf import settings

    return getattr(settings, "BACKCARE_PUSH_CA_BUNDLE", None) or True


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (an endpoint or an origin), as a VAPID ``aud``: lower-case scheme
    and host, the port only when it is not the scheme's default."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def sign_token(claims: dict, key: ec.EllipticCurvePrivateKey) -> str:
    """An ES256 JWT (JWS compact serialisation; the signature is r || s, 32 bytes each)."""
    header = b64url_encode(b'{"typ":"JWT","alg":"ES256"}')
    body = b64url_encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{header}.{body}"
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class _TokenCache:
    """Signed headers by (origin, key, subject). Thread-safe; each entry is signed exactly once."""

    MAX_ENTRIES = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], tuple[int, dict[str, str]]] = {}
        self.signed = 0  # how many tokens were signed (for tests)

    def get(self, origin: str, key_text: str, subject: str, now: float) -> dict[str, str]:
        cache_key = (origin, key_text, subject)
        with self._lock:
            entry = self._entries.get(cache_key)
            if entry is None or now >= entry[0] - TOKEN_RENEW_BEFORE:
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries = {k: v for k, v in self._entries.items() if now < v[0] - TOKEN_RENEW_BEFORE}
                    if len(self._entries) >= self.MAX_ENTRIES:
                        self._entries.clear()
                key = vapid_private_key()
                exp = int(now) + TOKEN_LIFETIME
                token = sign_token({"aud": origin, "exp": exp, "sub": subject}, key)
                entry = (exp, {"Authorization": f"vapid t={token}, k={public_key_b64(key)}"})
                self._entries[cache_key] = entry
                self.signed += 1
            return dict(entry[1])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_tokens = _TokenCache()


def vapid_headers_for(endpoint_origin: str) -> dict[str, str]:
    """``{"Authorization": "vapid t=<jwt>, k=<public key>"}`` for a push service origin (a full endpoint URL
    is reduced to its origin). The same token is reused until about an hour before its 12 h exp.
    Returns a new dict each call, so callers may add their own headers to it."""
    from django.conf import settings

    return _tokens.get(
        origin_of(endpoint_origin), getattr(settings, PRIVATE_KEY_SETTING, ""), vapid_subject(), time.time()
    )
