"""The map of device models: our type name -> django-push-notifications' model. The one place it is written.

Selectors, services, the transports and the outbox look a device's model up here; GCMDevice rows are FCM
registrations.
"""

from django.db.models import Model
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

DEVICE_MODELS: dict[str, type[Model]] = {"webpush": WebPushDevice, "fcm": GCMDevice, "apns": APNSDevice}
DEVICE_KINDS = tuple(DEVICE_MODELS)
