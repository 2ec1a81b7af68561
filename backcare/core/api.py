"""Shared API building blocks: strict serializers, aware datetimes, one error format."""

from datetime import UTC, datetime

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, so nobody can smuggle in owner, role or status."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object, got {type(data).__name__}."]}
            )
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = sorted(set(data) - writable)
        errors = {}
        if unknown:
            errors = {name: ["Unknown or read-only field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**errors, **exc.detail}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value


class AwareDateTimeField(serializers.DateTimeField):
    """An instant: must carry a UTC offset or Z. Naive times are ambiguous, so refused."""

    default_error_messages = {
        "naive": "Include a UTC offset or Z, e.g. 2026-01-31T08:00:00+01:00.",
    }

    def to_internal_value(self, value):
        if isinstance(value, datetime):
            parsed = value
        else:
            if not isinstance(value, str):
                self.fail("invalid", format="ISO 8601")
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                self.fail("invalid", format="ISO 8601 with offset")
        if timezone.is_naive(parsed):
            self.fail("naive")
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            self.fail("invalid", format="ISO 8601 with offset")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=413)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    return drf_exception_handler(exc, context)
