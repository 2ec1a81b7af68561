from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.core.errors import Unavailable
from backcare.core.permissions import IsPatientOrPhysiotherapist
from backcare.core.throttling import ScopedRateThrottle
from backcare.push import selectors, services
from backcare.push.api import serializers as s
from backcare.push.capabilities import push_kinds_enabled
from backcare.push.vapid import vapid_public_key_b64

TAGS = ["devices"]
DEVICE_ID = OpenApiParameter(
    "device_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^(webpush|fcm|apns):[1-9][0-9]{0,17}$",
    description='The device\'s id from the list, e.g. "webpush:12".',
)


def _last_test(state) -> dict | None:
    if state is None or (state.test_requested_at is None and state.test_at is None):
        return None
    pending = state.test_requested_at is not None and (state.test_at is None or state.test_at < state.test_requested_at)
    return {
        "at": state.test_at,
        "status_class": state.test_status_class or None,
        "reason": state.test_reason or None,
        "requested_at": state.test_requested_at,
        "pending": pending,
    }


def _last_delivery(state) -> dict | None:
    if state is None or state.delivery_at is None:
        return None
    return {
        "at": state.delivery_at,
        "status_class": state.delivery_status_class or None,
        "reason": state.delivery_reason or None,
    }


def _device_data(kind: str, device, state=False) -> dict:
    if state is False:  # one device: its state read here (the list reads them all at once)
        state = selectors.device_status_get(kind=kind, pk=device.pk)
    return s.DeviceOutputSerializer(
        {
            "id": selectors.device_public_id(kind, device),
            "type": kind,
            "name": device.name,
            "active": device.active,
            "date_created": device.date_created,
            "last_test": _last_test(state),
            "last_delivery": _last_delivery(state),
        }
    ).data


class DeviceListView(APIView):
    permission_classes = [IsPatientOrPhysiotherapist]

    @extend_schema(
        responses={200: s.DeviceOutputSerializer(many=True)},
        tags=TAGS,
        description="Your devices of every kind, newest first (not paginated: an account has at most a few).",
    )
    def get(self, request):
        rows = selectors.device_list_with_status(user=request.user)
        return Response([_device_data(kind, device, state) for kind, device, state in rows])

    @extend_schema(
        request=s.DeviceRegisterInputSerializer,
        responses={
            201: s.DeviceOutputSerializer,
            200: OpenApiResponse(s.DeviceOutputSerializer, description="You had registered it already: reactivated."),
            400: OpenApiResponse(
                description="A field is wrong, or `type` names a transport this server has switched off "
                "(see GET /api/push/capabilities/)."
            ),
            409: OpenApiResponse(description="The account has the most devices allowed."),
        },
        tags=TAGS,
        description=(
            "Register this browser (WebPush: the PushSubscription as JSON) or app (FCM or APNs token) for "
            "notifications. A registration another account holds moves to you, with a new id."
        ),
    )
    def post(self, request):
        registration = services.device_register(user=request.user, **s.device_register_input(request.data))
        return Response(
            _device_data(registration.kind, registration.device),
            status=status.HTTP_201_CREATED if registration.created else status.HTTP_200_OK,
        )


class DeviceDetailView(APIView):
    permission_classes = [IsPatientOrPhysiotherapist]

    @extend_schema(parameters=[DEVICE_ID], responses={200: s.DeviceOutputSerializer}, tags=TAGS)
    def get(self, request, device_id: tuple[str, int]):
        kind, pk = device_id
        return Response(_device_data(kind, selectors.device_get(user=request.user, kind=kind, pk=pk)))

    @extend_schema(
        parameters=[DEVICE_ID],
        request=s.DeviceRenameInputSerializer,
        responses={200: s.DeviceOutputSerializer},
        tags=TAGS,
        description="Rename a device (the name is the only thing that can change).",
    )
    def patch(self, request, device_id: tuple[str, int]):
        kind, pk = device_id
        data = s.DeviceRenameInputSerializer(data=request.data)  # the body first: a bad one is a 400 anywhere
        data.is_valid(raise_exception=True)
        if "name" in data.validated_data:
            device = services.device_rename(user=request.user, kind=kind, pk=pk, name=data.validated_data["name"])
        else:  # nothing to change
            device = selectors.device_get(user=request.user, kind=kind, pk=pk)
        return Response(_device_data(kind, device))

    @extend_schema(parameters=[DEVICE_ID], responses={204: None}, tags=TAGS)
    def delete(self, request, device_id: tuple[str, int]):
        kind, pk = device_id
        services.device_delete(user=request.user, kind=kind, pk=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeviceTestView(APIView):
    permission_classes = [IsPatientOrPhysiotherapist]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "push_test"

    @extend_schema(
        request=s.DeviceTestInputSerializer,
        responses={
            202: s.DeviceTestOutputSerializer,
            409: OpenApiResponse(description="No active device to send to."),
        },
        tags=TAGS,
        description=(
            "Queue a test notification to each of your active devices and answer at once. How each went "
            "shows on the device list (`last_test`: a status class and a reason code, never the push "
            "service's words)."
        ),
    )
    def post(self, request):
        s.DeviceTestInputSerializer(data=request.data).is_valid(raise_exception=True)
        test = services.device_test_request(user=request.user)
        data = {"devices": len(test.devices), "queued": test.devices, "requested_at": test.requested_at}
        return Response(s.DeviceTestOutputSerializer(data).data, status=status.HTTP_202_ACCEPTED)


class VapidKeyView(APIView):
    @extend_schema(
        responses={
            200: s.VapidKeyOutputSerializer,
            503: OpenApiResponse(description="WebPush is not configured on this server."),
        },
        tags=TAGS,
        description="The key to subscribe with: pushManager.subscribe({applicationServerKey: public_key, ...}).",
    )
    def get(self, request):
        try:
            key = vapid_public_key_b64()
        except ImproperlyConfigured as exc:  # no key on this server (local settings without var/ key)
            raise Unavailable("WebPush is not configured on this server.") from exc
        return Response(s.VapidKeyOutputSerializer({"public_key": key}).data)


class PushCapabilitiesView(APIView):
    @extend_schema(
        responses={200: s.PushCapabilitiesOutputSerializer},
        tags=TAGS,
        description="Which device types this server delivers to (WebPush, FCM, APNs): register only those.",
    )
    def get(self, request):
        kinds = push_kinds_enabled()
        accepted = [kind for kind, on in kinds.items() if on]
        return Response(s.PushCapabilitiesOutputSerializer({"kinds": kinds, "accepted": accepted}).data)
