from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.core.pagination import NewestFirstCursor
from recovery.api.common import PatientAPIView
from recovery.reminders import acks, selectors
from recovery.reminders.api.serializers import (
    AckInputSerializer,
    ReminderFilterSerializer,
    ReminderOutputSerializer,
    TokenAckInputSerializer,
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


class ReminderAckView(PatientAPIView):
    @extend_schema(
        request=AckInputSerializer,
        responses={
            200: ReminderOutputSerializer,
            409: OpenApiResponse(description="Safety reminders cannot be snoozed or skipped."),
        },
        tags=["reminders"],
    )
    def post(self, request, reminder_id: int):
        data = AckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reminder = acks.reminder_acknowledge(
            patient=request.user, reminder_id=reminder_id, action=data.validated_data["action"]
        )
        return Response(ReminderOutputSerializer(reminder).data)


class ReminderTokenAckView(APIView):
    """For the service worker's notification buttons: the push payload carries a signed token for its reminder."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="reminders_ack_with_token",
        request=TokenAckInputSerializer,
        responses={
            200: ReminderOutputSerializer,
            404: OpenApiResponse(description="No such reminder, or the token is not for it."),
            409: OpenApiResponse(description="Safety reminders cannot be snoozed or skipped."),
        },
        tags=["reminders"],
    )
    def post(self, request):
        data = TokenAckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        reminder = acks.reminder_acknowledge_with_token(token=v["token"], reminder_id=v["reminder"], action=v["action"])
        return Response(ReminderOutputSerializer(reminder).data)
