"""Reads of a user's push devices, across django-push-notifications' three device tables."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Model
from django.http import Http404
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

from backcare.accounts.models import User

# The public name of each kind -> its model. GCMDevice rows are FCM registrations.
DEVICE_MODELS: dict[str, type[Model]] = {"webpush": WebPushDevice, "fcm": GCMDevice, "apns": APNSDevice}
DEVICE_KINDS = tuple(DEVICE_MODELS)

_EPOCH = datetime.min.replace(tzinfo=UTC)


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
    """The user's device, or 404 (also when it is someone else's: the answer must not tell them apart)."""
    queryset = DEVICE_MODELS[kind].objects.filter(user=user, pk=pk)
    if for_update:
        queryset = queryset.select_for_update()
    device = queryset.first()
    if device is None:
        raise Http404
    return device
