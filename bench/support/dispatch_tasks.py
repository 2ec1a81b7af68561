"""The baseline of bench/dispatch.py: django-push-notifications' default path, one Celery task per message.

Loaded into the worker with `celery -A backcare worker -I bench.support.dispatch_tasks`.
"""

from celery import shared_task
from push_notifications.models import WebPushDevice


@shared_task(name="bench.dispatch.default_send", ignore_result=True)
def default_send(device_id: int, message: str) -> bool:
    """What a project without an outbox does: an ETA task per reminder, then WebPushDevice.send_message."""
    device = WebPushDevice.objects.get(pk=device_id)
    if not device.registration_id.startswith("https://127.0.0.1:"):
        # The library would rewrite anything else onto a public push URL: never send it.
        raise ValueError(f"refusing non-loopback registration {device.registration_id!r}")
    result = device.send_message(message)
    return bool(result.get("success"))


@shared_task(name="bench.dispatch.noop", ignore_result=True)
def noop(device_id: int, message: str) -> None:
    """The memory phase's ETA tasks: what matters is that the worker holds them until their eta."""
