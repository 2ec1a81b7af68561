import re

from cryptography.hazmat.primitives.asymmetric import ec
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from backcare.core.api import StrictSerializer
from backcare.push.devices import DEVICE_KINDS
from backcare.push.endpoints import EndpointRefused, endpoint_parse
from backcare.push.transports import REASONS
from backcare.push.vapid import b64url_decode, b64url_encode

_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]+")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


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
        # The sender's own parser (backcare/push/endpoints.py): what passes here is exactly what is posted to.
        try:
            return endpoint_parse(value).url
        except EndpointRefused as exc:
            raise serializers.ValidationError(exc.message, code=exc.reason) from None


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


class DeviceResultOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True, help_text="When the push ended; null while a test is queued.")
    status_class = serializers.CharField(
        allow_null=True, help_text='The push service\'s answer, as a class ("2xx", "4xx", "5xx"); null: no answer.'
    )
    reason = serializers.ChoiceField(
        choices=list(REASONS), allow_null=True, help_text='"sent", or why not ("timeout", "gone", "http_5xx", ...).'
    )


class DeviceTestStatusOutputSerializer(DeviceResultOutputSerializer):
    requested_at = serializers.DateTimeField(allow_null=True, help_text="When the last test was asked for.")
    pending = serializers.BooleanField(help_text="The last test asked for has not finished yet.")


class DeviceOutputSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='"<type>:<number>", e.g. "webpush:12"; use it in /api/devices/{id}/.')
    type = serializers.ChoiceField(choices=list(DEVICE_KINDS))
    name = serializers.CharField(allow_null=True)
    active = serializers.BooleanField(
        help_text="false once the push service said the registration is gone; registering it again reactivates it."
    )
    date_created = serializers.DateTimeField(allow_null=True)
    last_test = DeviceTestStatusOutputSerializer(
        allow_null=True, help_text="The last test notification (POST /api/devices/test/); null: never tested."
    )
    last_delivery = DeviceResultOutputSerializer(allow_null=True, help_text="The last reminder sent to it; null: none.")


class DeviceTestOutputSerializer(serializers.Serializer):
    devices = serializers.IntegerField(help_text="How many active devices the test notification is queued for.")
    queued = serializers.ListField(
        child=serializers.CharField(), help_text='Their ids ("webpush:12"); each one\'s result shows on the list.'
    )
    requested_at = serializers.DateTimeField()


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
