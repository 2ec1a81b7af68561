"""Reads of push devices, across django-push-notifications' three device tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.db.models import Model

from backcare.accounts.models import User
from backcare.core.errors import NotFound
from backcare.push.capabilities import push_kinds_enabled
from backcare.push.devices import DEVICE_MODELS
from backcare.push.models import DeviceStatus

_EPOCH = datetime.min.replace(tzinfo=UTC)

DeviceKey = tuple[str, int]  # (type, pk): how a delivery row names its device


def device_public_id(kind: str, device: Model) -> str:
    return f"{kind}:{device.pk}"


def device_list(*, user: User) -> list[tuple[str, Model]]:
    """(kind, device) for every device of the user, newest first."""
    rows = [(kind, device) for kind, model in DEVICE_MODELS.items() for device in model.objects.filter(user=user)]
    rows.sort(key=lambda row: (row[1].date_created or _EPOCH, row[0], row[1].pk), reverse=True)
    return rows


def devices_active(*, user: User) -> list[tuple[str, Model]]:
    return [(kind, device) for kind, device in device_list(user=user) if device.active]


def device_count(*, user: User) -> int:
    return sum(model.objects.filter(user=user).count() for model in DEVICE_MODELS.values())


def device_get(*, user: User, kind: str, pk: int, for_update: bool = False) -> Model:
    """The user's device, or NotFound (also when it is someone else's: the answer must not tell them apart)."""
    queryset = DEVICE_MODELS[kind].objects.filter(user=user, pk=pk)
    if for_update:
        queryset = queryset.select_for_update()
    device = queryset.first()
    if device is None:
        raise NotFound()
    return device


def devices_active_of(*, user_ids: Iterable[int]) -> list[tuple[int, str, int]]:
    """(user_id, type, pk) of every active device of these users that this server can deliver to (a kind
    switched off, FCM or APNs without credentials, is no device: the outbox's "no device" path, as in the
    triage queue): one query per device table."""
    enabled = push_kinds_enabled()
    return [
        (user_id, kind, pk)
        for kind, model in DEVICE_MODELS.items()
        if enabled[kind]
        for user_id, pk in model.objects.filter(user_id__in=user_ids, active=True).values_list("user_id", "pk")
    ]


def devices_by_key(*, keys: Iterable[DeviceKey]) -> dict[DeviceKey, Model]:
    """The devices these keys name, active or not (one query per device table); unknown keys are left out."""
    wanted: dict[str, list[int]] = {}
    for kind, pk in keys:
        wanted.setdefault(kind, []).append(pk)
    return {
        (kind, device.pk): device
        for kind, pks in wanted.items()
        if kind in DEVICE_MODELS
        for device in DEVICE_MODELS[kind].objects.filter(pk__in=pks)
    }


def device_statuses(*, user: User) -> dict[DeviceKey, DeviceStatus]:
    """Each of the user's devices' last test and last delivery, by (type, pk) (one query)."""
    return {(row.device_type, row.device_id): row for row in DeviceStatus.objects.filter(user=user)}


def device_status_get(*, kind: str, pk: int) -> DeviceStatus | None:
    return DeviceStatus.objects.filter(device_type=kind, device_id=pk).first()


def device_list_with_status(*, user: User) -> list[tuple[str, Model, DeviceStatus | None]]:
    """`device_list`, each with its last test and delivery (None: never tried)."""
    statuses = device_statuses(user=user)
    return [(kind, device, statuses.get((kind, device.pk))) for kind, device in device_list(user=user)]
