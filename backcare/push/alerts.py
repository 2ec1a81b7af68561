"""Credentials a push service refuses: said once, loudly, then that transport rests for a cool-off.

A refused credential is the operator's error and the same for every message: instead of one failed
delivery and one log line per reminder, the first refusal writes one `PushAlert` row (unique per transport
and configuration, so the first process to see it is the one that logs) and /healthz fails while the row
is there. Meanwhile the process sends nothing of that kind: each delivery gets a transient answer with
Retry-After = the cool-off, so it is retried (with the ledger's usual limits) once the key is fixed. After
the cool-off one message goes out again; its success clears the alert. A new configuration (another key)
has another fingerprint: it is tried at once, and the old alert no longer counts.

Transports do no database work in their sender threads' connections: the row is written from a thread of
its own, which closes its connection.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.utils import timezone

from backcare.push.transports import TransportError

logger = logging.getLogger(__name__)


def fingerprint_of(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def cooloff_seconds() -> float:
    return max(1.0, float(getattr(settings, "BACKCARE_PUSH_CREDENTIAL_COOLOFF", 600.0)))


def _in_own_connection(work: Callable[[], object]) -> object:
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = work()
        except Exception:  # an alert that cannot be stored must not stop the send path
            logger.exception("could not store a push alert")
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="push-alert", daemon=True)
    thread.start()
    thread.join(10)
    return result.get("value")


def _alert_store(kind: str, fingerprint: str, error: str) -> bool:
    from backcare.push.models import PushAlert

    _, created = PushAlert.objects.get_or_create(
        kind=kind, fingerprint=fingerprint, defaults={"error": error[:2000], "at": timezone.now()}
    )
    return created


def _alert_clear(kind: str, fingerprint: str) -> None:
    from backcare.push.models import PushAlert

    PushAlert.objects.filter(kind=kind, fingerprint=fingerprint).delete()


class CredentialGuard:
    """One per transport and process: whether its credentials were refused, and until when it rests."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._lock = threading.Lock()
        self._resting: dict[str, float] = {}  # fingerprint -> time.monotonic() the cool-off ends

    def resting(self, fingerprint: str) -> TransportError | None:
        """The answer to give without sending, while this configuration's cool-off lasts; else None."""
        until = self._resting.get(fingerprint)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            return None  # one message tries again; its answer refuses or clears
        return TransportError(f"{self.kind} credentials refused; resting {left:.0f} s", retry_after=left)

    def refused(self, fingerprint: str, error: str) -> TransportError:
        """The push service refused our credentials: rest, raise the alert (logged once), answer transiently."""
        cooloff = cooloff_seconds()
        with self._lock:
            self._resting[fingerprint] = time.monotonic() + cooloff
        if _in_own_connection(lambda: _alert_store(self.kind, fingerprint, error)):
            logger.error(
                "%s credentials refused (%s): no %s push is sent until the configuration changes or for %.0f s",
                self.kind,
                error[:300],
                self.kind,
                cooloff,
            )
        return TransportError(f"{self.kind} credentials refused: {error}"[:500], retry_after=cooloff)

    def accepted(self, fingerprint: str) -> None:
        """A message went through: if this configuration had been refused, the alert is over."""
        if fingerprint not in self._resting:
            return
        with self._lock:
            self._resting.pop(fingerprint, None)
        _in_own_connection(lambda: _alert_clear(self.kind, fingerprint))
        logger.warning("%s credentials accepted again: alert cleared", self.kind)

    def reset(self) -> None:
        with self._lock:
            self._resting.clear()
