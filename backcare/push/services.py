"""Devices: register, rename, remove, deactivate (a push service said gone); and a test push, now.

Who owns a registration: a push registration (a WebPush endpoint, an FCM token, an APNs token) belongs to
at most one account. Registering one that another account holds moves it to the caller (a browser profile
or phone that changed hands: the latest account signed in on it gets its notifications). The move deletes
the old row and creates a new one, so the device gets a new id: anything queued for the previous owner
that points at the old id (``recovery.Delivery`` rows) finds no device and is never delivered to the new
owner, and the previous owner's device name is not carried over. Registering a registration the caller
already holds returns it (reactivated, keys and name updated) instead of adding a second row.

Registration ids are secrets a client only learns from its own browser or OS, and the API never shows
them, so "moving" someone's device needs that secret; what a stolen one could do is stop its owner's
reminders, never read them (the payload is encrypted to the keys the browser holds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext

from backcare.accounts.models import User
from backcare.core.errors import Conflict, Invalid
from backcare.push.capabilities import LABELS, push_kinds_enabled
from backcare.push.devices import DEVICE_KINDS, DEVICE_MODELS
from backcare.push.models import DeviceStatus
from backcare.push.probe import push_test
from backcare.push.selectors import device_count, device_get, devices_active, devices_by_key
from backcare.push.transports import status_class

# WebPushDevice.browser is only used by django-push-notifications to complete registration ids that are
# not full endpoints (we never store such ids); kept right anyway.
_BROWSERS = (
    ("updates.push.services.mozilla.com", "FIREFOX"),
    ("push.services.mozilla.com", "FIREFOX"),
    ("notify.windows.com", "EDGE"),
    ("push.apple.com", "SAFARI"),
)


@dataclass(frozen=True)
class Registration:
    kind: str
    device: Model
    created: bool  # False: the caller already had it (re-registration)


def browser_for(endpoint: str) -> str:
    host = (urlsplit(endpoint).hostname or "").lower()
    for suffix, browser in _BROWSERS:
        if host == suffix or host.endswith("." + suffix):
            return browser
    return "CHROME"


def _lock_registration(kind: str, registration_id: str) -> None:
    """Serialise registrations of one registration id (a row lock cannot cover a row that does not exist)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"push:{kind}:{registration_id}"])
    # SQLite: transactions are IMMEDIATE (see settings), so writers are serialised already.


def _make_room(user: User) -> None:
    """Keep an account under BACKCARE_MAX_DEVICES_PER_USER: drop its oldest inactive devices, else refuse."""
    limit = settings.BACKCARE_MAX_DEVICES_PER_USER
    excess = device_count(user=user) + 1 - limit
    if excess <= 0:
        return
    inactive = sorted(
        (
            (device.date_created, kind, device.pk)
            for kind, model in DEVICE_MODELS.items()
            for device in model.objects.filter(user=user, active=False).only("pk", "date_created")
        ),
        key=lambda row: (row[0] is not None, row[0], row[2]),
    )
    for _, kind, pk in inactive[:excess]:
        DEVICE_MODELS[kind].objects.filter(pk=pk).delete()
    if device_count(user=user) + 1 > limit:
        raise Conflict(f"This account already has {limit} devices, the most allowed. Remove one first.")


def _clean_name(name: str | None) -> str | None:
    return (name or "").strip() or None


@transaction.atomic
def device_register(
    *,
    user: User,
    kind: str,
    registration_id: str,
    name: str | None = None,
    p256dh: str | None = None,
    auth: str | None = None,
) -> Registration:
    """Register a device for `user`, or return the one they have with this registration id (see module doc).

    A kind this server cannot deliver to is refused (Invalid on `type`): stored, it would look reachable and
    get nothing."""
    enabled = push_kinds_enabled()
    if not enabled.get(kind):
        accepted = ", ".join(k for k, on in enabled.items() if on) or gettext("none")
        message = gettext(
            "%(transport)s notifications are switched off on this server. Accepted device types: %(accepted)s."
        )
        raise Invalid({"type": [message % {"transport": LABELS.get(kind, kind), "accepted": accepted}]})
    model = DEVICE_MODELS[kind]
    # One registration per account at a time (the device limit). NO KEY: rows that merely reference the
    # user (check-ins, tokens) can still be inserted meanwhile.
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()
    _lock_registration(kind, registration_id)
    rows = list(model.objects.select_for_update().filter(registration_id=registration_id).order_by("pk"))
    mine = next((row for row in rows if row.user_id == user.pk), None)
    others = [row.pk for row in rows if row is not mine]
    if others:  # another account's (moved to the caller), or duplicates of the caller's
        model.objects.filter(pk__in=others).delete()
    fields: dict = {"active": True}
    if name is not None:
        fields["name"] = _clean_name(name)
    if kind == "webpush":
        fields.update(p256dh=p256dh, auth=auth, browser=browser_for(registration_id))
    elif kind == "fcm":
        fields["cloud_message_type"] = "FCM"
    if mine is not None:
        changed = [field for field, value in fields.items() if getattr(mine, field) != value]
        for field in changed:
            setattr(mine, field, fields[field])
        if changed:
            mine.save(update_fields=changed)
        return Registration(kind, mine, created=False)
    _make_room(user)
    fields.setdefault("name", None)
    device = model.objects.create(user=user, registration_id=registration_id, **fields)
    return Registration(kind, device, created=True)


@transaction.atomic
def device_rename(*, user: User, kind: str, pk: int, name: str | None) -> Model:
    device = device_get(user=user, kind=kind, pk=pk, for_update=True)
    device.name = _clean_name(name)
    device.save(update_fields=["name"])
    return device


@transaction.atomic
def device_delete(*, user: User, kind: str, pk: int) -> None:
    device_get(user=user, kind=kind, pk=pk, for_update=True).delete()
    DeviceStatus.objects.filter(device_type=kind, device_id=pk).delete()


def device_deactivate(*, device_type: str, device_id: int) -> bool:
    """A push service said the subscription is gone for good (404/410): stop sending to it anywhere."""
    model = DEVICE_MODELS.get(device_type)
    if model is None:
        return False
    return model.objects.filter(pk=device_id, active=True).update(active=False) == 1


@dataclass(frozen=True)
class DeviceResult:
    """How one push to a device ended, as the device list shows it: a status class and a reason code."""

    device_type: str
    device_id: int
    user_id: int
    at: datetime
    status_code: int | None
    reason: str


_STATUS_FIELDS = {
    "test": ("test_at", "test_status_class", "test_reason"),
    "delivery": ("delivery_at", "delivery_status_class", "delivery_reason"),
}


def device_statuses_record(*, what: Literal["test", "delivery"], results: Iterable[DeviceResult]) -> int:
    """Keep each device's latest `what` result (one upsert; the newest result per device wins)."""
    latest: dict[tuple[str, int], DeviceResult] = {}
    for result in results:
        key = (result.device_type, result.device_id)
        if key not in latest or latest[key].at <= result.at:
            latest[key] = result
    if not latest:
        return 0
    at_field, class_field, reason_field = _STATUS_FIELDS[what]
    rows = [
        DeviceStatus(
            user_id=result.user_id,
            device_type=result.device_type,
            device_id=result.device_id,
            **{at_field: result.at, class_field: status_class(result.status_code) or "", reason_field: result.reason},
        )
        for result in sorted(latest.values(), key=lambda r: (r.device_type, r.device_id))  # a stable lock order
    ]
    DeviceStatus.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["device_type", "device_id"],
        update_fields=[at_field, class_field, reason_field],
    )
    return len(rows)


@dataclass(frozen=True)
class TestRequest:
    devices: list[str]  # "<type>:<id>" of each active device the test is queued for
    requested_at: datetime


def device_test_request(*, user: User) -> TestRequest:
    """Queue a test notification to each of the user's active devices (sent by a worker, after commit).

    No active device: Conflict, and nothing is queued. The result is read back on the device list.
    """
    devices = devices_active(user=user)
    if not devices:
        raise Conflict("No active device to send to: register this device for notifications first.")
    devices.sort(key=lambda row: (DEVICE_KINDS.index(row[0]), row[1].pk))
    keys = [f"{kind}:{device.pk}" for kind, device in devices]
    now = timezone.now()
    with transaction.atomic():
        for kind, device in devices:
            DeviceStatus.objects.update_or_create(
                device_type=kind, device_id=device.pk, defaults={"user": user, "test_requested_at": now}
            )
        from backcare.push.tasks import device_test_send  # the task module imports these services

        transaction.on_commit(lambda: device_test_send.delay(user.pk, keys), robust=True)
    return TestRequest(keys, now)


def device_test_send(*, user_id: int, device_keys: list[str]) -> list[DeviceResult]:
    """Send the test notification to these devices of the user (still active), then record how each went.

    Network I/O outside any transaction; a device whose push service says it is gone is deactivated, as
    the outbox does.
    """
    keys = []
    for key in device_keys:
        kind, _, pk = str(key).partition(":")
        if kind in DEVICE_MODELS and pk.isdigit():
            keys.append((kind, int(pk)))
    found = devices_by_key(keys=keys)
    devices = [
        (kind, found[(kind, pk)])
        for kind, pk in keys
        if (kind, pk) in found and found[(kind, pk)].user_id == user_id and found[(kind, pk)].active
    ]
    tried = push_test(devices=devices)
    now = timezone.now()
    results = [
        DeviceResult(each.device_type, each.device_id, user_id, now, each.outcome.status_code, each.outcome.reason_code)
        for each in tried
    ]
    with transaction.atomic():
        for each in tried:
            if each.outcome.gone:
                device_deactivate(device_type=each.device_type, device_id=each.device_id)
        device_statuses_record(what="test", results=results)
    return results
