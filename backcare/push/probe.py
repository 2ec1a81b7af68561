"""A test notification to a user's devices, now: network only (the caller records how each went)."""

import logging
import time
from dataclasses import dataclass

from django.db.models import Model

from backcare.push.transports import Outcome, transport_for

logger = logging.getLogger(__name__)

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
    """Send a test notification to each (type, device) now, each within the push deadline."""
    results = []
    for device_type, device in devices:
        transport = transport_for(device_type)
        if transport is None:
            continue
        started = time.monotonic()
        outcome = transport.send(device, dict(TEST_PAYLOAD), collapse_key="test", ttl=60)
        results.append(Tried(device_type, device.pk, outcome, int((time.monotonic() - started) * 1000)))
        # The details (a push service's answer, a network error) for the operator, never for the client.
        logger.info(
            "push test to %s:%s -> %s %s %s",
            device_type,
            device.pk,
            outcome.status_code,
            outcome.reason_code,
            outcome.error,
        )
    return results
