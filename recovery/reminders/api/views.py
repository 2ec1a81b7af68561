from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.core.pagination import NewestFirstCursor
from recovery.api.common import PatientAPIView
from recovery.reminders import acks, selectors
from recovery.reminders.api.serializers import (
    AckInputSerializer,
    AckResultSerializer,
    ReminderDetailSerializer,
    ReminderFilterSerializer,
    ReminderOutputSerializer,
    TokenAckInputSerializer,
    TokenAckOutputSerializer,
)
from recovery.reminders.models import Reminder


class ReminderCursor(NewestFirstCursor):
    ordering = ("-due_at", "-id")


class ReminderListView(PatientAPIView):
    pagination_class = ReminderCursor

    @extend_schema(
        parameters=[
            OpenApiParameter("episode", str, description="Only this episode's reminders (uuid)"),
            OpenApiParameter("status", str, enum=Reminder.Status.values, description="Only this status"),
        ],
        responses={200: ReminderOutputSerializer(many=True)},
        tags=["reminders"],
    )
    def get(self, request):
        filters = ReminderFilterSerializer.parse(request)
        reminders = selectors.reminder_list(
            patient=request.user, episode_id=filters.get("episode"), status=filters.get("status")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(reminders, request, view=self)
        return paginator.get_paginated_response(ReminderOutputSerializer(page, many=True).data)


class ReminderDetailView(PatientAPIView):
    @extend_schema(responses={200: ReminderDetailSerializer}, tags=["reminders"])
    def get(self, request, reminder_id: int):
        """One reminder as the app's reminder screen shows it (a tapped notification opens it)."""
        detail = selectors.reminder_detail(patient=request.user, reminder_id=reminder_id)
        return Response(ReminderDetailSerializer(detail).data)


_REFUSED = OpenApiResponse(
    description="Refused now, with a short translated reason in `detail`: a safety reminder cannot be snoozed "
    "or skipped, the pause is not over, another application runs, the reminder is too old or no longer due."
)


class ReminderAckView(PatientAPIView):
    @extend_schema(
        request=AckInputSerializer,
        responses={
            200: AckResultSerializer,
            400: OpenApiResponse(description="The reminder does not offer that."),
            409: _REFUSED,
        },
        tags=["reminders"],
        description="The patient's answer from the app: start (a start reminder: records the application now, "
        "once per reminder), stop (a remove reminder: stops the application now), snooze, skip (non-safety "
        "reminders), done.",
    )
    def post(self, request, reminder_id: int):
        data = AckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = acks.reminder_acknowledge(
            patient=request.user, reminder_id=reminder_id, action=data.validated_data["action"]
        )
        reminder = answer.reminder
        reminder.result = answer.result  # read by the serializer's `result` field
        return Response(AckResultSerializer(reminder).data)


class ReminderTokenAckView(APIView):
    """For the service worker's notification buttons: the push payload carries a signed token for its reminder."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="reminders_ack_with_token",
        request=TokenAckInputSerializer,
        responses={
            200: TokenAckOutputSerializer,
            403: OpenApiResponse(description="The token does not allow this action (another reminder's button)."),
            404: OpenApiResponse(description="No such reminder, or the token is not for it."),
            409: _REFUSED,
        },
        tags=["reminders"],
        description="The token (payload `ack_token`) authorises only its reminder's buttons (payload `actions`), "
        "until they stop making sense: a start until its freshness window ends, a stop while the application "
        "may be on. The answer says only what happened.",
    )
    def post(self, request):
        data = TokenAckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        answer = acks.reminder_acknowledge_with_token(token=v["token"], reminder_id=v["reminder"], action=v["action"])
        return Response(TokenAckOutputSerializer({"status": "ok", "result": answer.result}).data)
