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

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils.translation import gettext

from backcare.accounts.models import User
from backcare.core.errors import Conflict, Invalid
from backcare.push.capabilities import LABELS, push_kinds_enabled
from backcare.push.devices import DEVICE_KINDS, DEVICE_MODELS
from backcare.push.selectors import device_count, device_get, devices_active
from backcare.push.transports import push_test

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


def device_deactivate(*, device_type: str, device_id: int) -> bool:
    """A push service said the subscription is gone for good (404/410): stop sending to it anywhere."""
    model = DEVICE_MODELS.get(device_type)
    if model is None:
        return False
    return model.objects.filter(pk=device_id, active=True).update(active=False) == 1


@dataclass(frozen=True)
class TestPush:
    devices: int  # active devices the test went to
    results: list[dict]  # {"id", "ok", "status_code", "error"} per device


def device_test_push(*, user: User) -> TestPush:
    """Send a test notification to each of the user's active devices now, and say how each went.

    No active device: Conflict, and nothing is sent. A device whose push service says it is gone is
    deactivated, as the outbox does.
    """
    devices = devices_active(user=user)
    if not devices:
        raise Conflict("No active device to send to: register this device for notifications first.")
    # By type, then by id: the order the results have always come in.
    devices.sort(key=lambda row: (DEVICE_KINDS.index(row[0]), row[1].pk))
    tried = push_test(devices=devices)
    for each in tried:
        if each.outcome.gone:
            device_deactivate(device_type=each.device_type, device_id=each.device_id)
    results = [
        {
            "id": f"{each.device_type}:{each.device_id}",
            "ok": each.outcome.ok,
            "status_code": each.outcome.status_code,
            "error": each.outcome.error,
        }
        for each in tried
    ]
    return TestPush(len(devices), results)
