from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.core.pagination import NewestFirstCursor
from recovery.api.common import PatientAPIView, episode_filter
from recovery.reminders import services as reminder_services
from recovery.reminders.api.serializers import AckInputSerializer, ReminderOutputSerializer, TokenAckInputSerializer
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
        qs = Reminder.objects.filter(patient=request.user)
        episode_id = episode_filter(request)
        if episode_id is not None:
            qs = qs.filter(episode_id=episode_id)
        status = request.query_params.get("status")
        if status is not None:
            if status not in Reminder.Status.values:
                raise ValidationError({"status": [f"Must be one of {', '.join(Reminder.Status.values)}."]})
            qs = qs.filter(Q(status=status))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
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
        reminder = reminder_services.reminder_acknowledge(
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
        if reminder_services.reminder_ack_token_check(token=v["token"]) != v["reminder"]:
            raise NotFound("No such reminder.")
        reminder = Reminder.objects.filter(pk=v["reminder"]).select_related("patient").first()
        if reminder is None:
            raise NotFound("No such reminder.")
        reminder = reminder_services.reminder_acknowledge(
            patient=reminder.patient, reminder_id=reminder.pk, action=v["action"]
        )
        return Response(ReminderOutputSerializer(reminder).data)
