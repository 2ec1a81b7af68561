from django.urls import path, register_converter

from backcare.push.api import views


class DeviceIdConverter:
    """Device ids in paths: "webpush:12" -> ("webpush", 12). Anything else does not match (a JSON 404)."""

    regex = r"(?:webpush|fcm|apns):[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> tuple[str, int]:
        kind, pk = value.split(":")
        return kind, int(pk)

    def to_url(self, value) -> str:
        return value if isinstance(value, str) else f"{value[0]}:{value[1]}"


register_converter(DeviceIdConverter, "device_id")

urlpatterns = [
    path("push/vapid-key/", views.VapidKeyView.as_view(), name="push-vapid-key"),
    path("push/capabilities/", views.PushCapabilitiesView.as_view(), name="push-capabilities"),
    path("devices/", views.DeviceListView.as_view(), name="device-list"),
    path("devices/test/", views.DeviceTestView.as_view(), name="device-test"),
    path("devices/<device_id:device_id>/", views.DeviceDetailView.as_view(), name="device-detail"),
]
