import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from backcare.core.api import StrictSerializer
from backcare.push.devices import DEVICE_KINDS
from backcare.push.vapid import b64url_decode, b64url_encode

_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]+")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _host_allowed(host: str) -> bool:
    for allowed in settings.BACKCARE_PUSH_ENDPOINT_HOSTS:
        allowed = allowed.strip().lower()
        if allowed.startswith("."):
            if host.endswith(allowed) and len(host) > len(allowed):
                return True
        elif host == allowed:
            return True
    return False


def _decode_key(value: str, length: int, what: str) -> bytes:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise serializers.ValidationError(f"Must be base64url (A-Z a-z 0-9 - _) {what}.") from None
    if len(raw) != length:
        raise serializers.ValidationError(f"Must be {length} bytes ({what}); got {len(raw)}.")
    return raw


class SubscriptionKeysInputSerializer(StrictSerializer):
    """The subscription's keys, as PushSubscription.toJSON() gives them."""

    p256dh = serializers.CharField(max_length=200, help_text="base64url, 65-byte uncompressed P-256 point.")
    auth = serializers.CharField(max_length=100, help_text="base64url, 16-byte auth secret.")

    def validate_p256dh(self, value: str) -> str:
        raw = _decode_key(value, 65, "an uncompressed P-256 point")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise serializers.ValidationError("Is not a point on the P-256 curve.") from None
        return b64url_encode(raw)

    def validate_auth(self, value: str) -> str:
        return b64url_encode(_decode_key(value, 16, "the auth secret"))


class SubscriptionInputSerializer(StrictSerializer):
    """What PushSubscription.toJSON() gives in the browser."""

    endpoint = serializers.CharField(max_length=2048, help_text="The full https:// endpoint URL.")
    expirationTime = serializers.IntegerField(  # noqa: N815 - the browser's own name for it
        required=False, allow_null=True, help_text="Sent by browsers; not used."
    )
    keys = SubscriptionKeysInputSerializer()

    def validate_endpoint(self, value: str) -> str:
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise serializers.ValidationError("Must be a URL without spaces or control characters.")
        try:
            parts = urlsplit(value)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError:
            raise serializers.ValidationError("Must be a valid https:// URL.") from None
        if parts.scheme.lower() != "https":
            raise serializers.ValidationError("Must be an https:// URL (push services only accept TLS).")
        if not host or parts.username is not None or parts.password is not None or parts.fragment:
            raise serializers.ValidationError("Must be an https:// URL with a host, no credentials and no #fragment.")
        if not _host_allowed(host):
            raise serializers.ValidationError(f"{host} is not a known push service.")
        return value


class _RegisterInputSerializer(StrictSerializer):
    name = serializers.CharField(
        max_length=255,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Yours to recognise the device by, e.g. 'Phone'. Kept when re-registering without one.",
    )


class WebPushRegisterInputSerializer(_RegisterInputSerializer):
    """A browser: its PushSubscription as JSON (endpoint and keys)."""

    type = serializers.ChoiceField(choices=["webpush"])
    subscription = SubscriptionInputSerializer()


class FcmRegisterInputSerializer(_RegisterInputSerializer):
    """An Android (or other FCM) app: its registration token."""

    type = serializers.ChoiceField(choices=["fcm"])
    registration_id = serializers.CharField(max_length=4096, help_text="The FCM registration token.")

    def validate_registration_id(self, value: str) -> str:
        if not _FCM_TOKEN.fullmatch(value):
            raise serializers.ValidationError("Must be an FCM token (letters, digits, - _ : .).")
        return value


class ApnsRegisterInputSerializer(_RegisterInputSerializer):
    """An iOS app: its APNs device token."""

    type = serializers.ChoiceField(choices=["apns"])
    registration_id = serializers.CharField(max_length=200, help_text="The APNs device token, in hex.")

    def validate_registration_id(self, value: str) -> str:
        if not _HEX.fullmatch(value) or len(value) < 64:
            raise serializers.ValidationError("Must be an APNs device token: at least 32 bytes in hex.")
        return value.lower()


REGISTER_INPUTS = {
    "webpush": WebPushRegisterInputSerializer,
    "fcm": FcmRegisterInputSerializer,
    "apns": ApnsRegisterInputSerializer,
}

DeviceRegisterInputSerializer = PolymorphicProxySerializer(
    component_name="DeviceRegisterInput",
    serializers=REGISTER_INPUTS,
    resource_type_field_name="type",
)


def device_register_input(data) -> dict:
    """Validate a registration body with the serializer its `type` picks; the service's keyword arguments."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": [f"Expected a JSON object, got {type(data).__name__}."]})
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in REGISTER_INPUTS:
        choices = ", ".join(f'"{k}"' for k in DEVICE_KINDS)
        raise serializers.ValidationError({"type": [f"Must be one of {choices}."]})
    serializer = REGISTER_INPUTS[kind](data=data)
    serializer.is_valid(raise_exception=True)
    values = serializer.validated_data
    result = {"kind": kind, "name": values.get("name")}
    if kind == "webpush":
        subscription = values["subscription"]
        result.update(
            registration_id=subscription["endpoint"],
            p256dh=subscription["keys"]["p256dh"],
            auth=subscription["keys"]["auth"],
        )
    else:
        result["registration_id"] = values["registration_id"]
    return result


class DeviceRenameInputSerializer(StrictSerializer):
    """Only the name can change."""

    name = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True, help_text="null or '' clears it."
    )


class DeviceTestInputSerializer(StrictSerializer):
    """No fields: an empty object (or no body)."""


class DeviceOutputSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='"<type>:<number>", e.g. "webpush:12"; use it in /api/devices/{id}/.')
    type = serializers.ChoiceField(choices=list(DEVICE_KINDS))
    name = serializers.CharField(allow_null=True)
    active = serializers.BooleanField(
        help_text="false once the push service said the registration is gone; registering it again reactivates it."
    )
    date_created = serializers.DateTimeField(allow_null=True)


class DeviceTestResultSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='The device, as in the list ("webpush:12").')
    ok = serializers.BooleanField(help_text="The push service accepted the notification.")
    status_code = serializers.IntegerField(allow_null=True, help_text="The push service's answer, if any.")
    error = serializers.CharField(allow_blank=True)


class DeviceTestOutputSerializer(serializers.Serializer):
    devices = serializers.IntegerField(help_text="How many active devices the test notification went to.")
    results = DeviceTestResultSerializer(many=True, help_text="One per device, when the sender reports them.")


class VapidKeyOutputSerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The applicationServerKey for pushManager.subscribe(): base64url of the 65-byte uncompressed "
        "P-256 point."
    )


class PushCapabilitiesOutputSerializer(serializers.Serializer):
    kinds = serializers.DictField(
        child=serializers.BooleanField(),
        help_text='Every device type -> whether this server delivers to it, e.g. {"webpush": true, "fcm": false}. '
        "POST /api/devices/ refuses a type that is false.",
    )
    accepted = serializers.ListField(child=serializers.CharField(), help_text="The device types that are true.")
