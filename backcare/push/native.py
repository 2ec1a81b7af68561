"""What the wrapped apps' transports share (FCM in fcm.py, APNs in apns.py): the collapse id, secrets
given as text or as a path, and the request timeouts."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

COLLAPSE_MAX_BYTES = 64  # APNs' apns-collapse-id limit; FCM's collapse key is held to the same


def collapse_id(slot: str) -> str:
    """The reminder's slot as a collapse key: the slot itself (readable in the push service's logs and on the
    phone) when it fits in 64 bytes, else its SHA-256 in hex (64 characters): stable, so a resend collapses."""
    if len(slot.encode()) <= COLLAPSE_MAX_BYTES:
        return slot
    return hashlib.sha256(slot.encode()).hexdigest()


def secret_text(value: str, *, name: str, starts: str) -> str:
    """A credential from the environment: the text itself (it starts with `starts`) or a path to a file."""
    value = (value or "").strip()
    if value.startswith(starts):
        return value
    path = Path(value)
    if not path.is_file():
        raise ImproperlyConfigured(f"{name} is neither the credential itself nor a readable file")
    return path.read_text().strip()


def timeouts() -> tuple[float, float]:
    connect, read = getattr(settings, "BACKCARE_PUSH_TIMEOUT", (5.0, 10.0))
    return float(connect), float(read)
