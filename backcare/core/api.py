"""Shared API building blocks: strict serializers, aware datetimes, one error format."""

from datetime import UTC, datetime

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils import timezone
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from backcare.core.errors import DomainError, Invalid

# The JSON type each kind of field takes. DRF would coerce "yes" to true, 5 to "5" and 0 to a UUID.
_JSON_TYPES = (
    (serializers.BooleanField, (bool,), "Must be true or false."),
    (serializers.IntegerField, (int,), "Must be a whole number."),
    (serializers.CharField, (str,), "Must be a string."),
    (serializers.UUIDField, (str,), "Must be a UUID string."),
)


def _json_type_error(field: serializers.Field, value) -> str | None:
    if value is None:
        return None  # the field's allow_null decides
    for kind, json_types, message in _JSON_TYPES:
        if isinstance(field, kind):
            wrong_bool = isinstance(value, bool) and bool not in json_types  # True is an int in Python
            return message if wrong_bool or not isinstance(value, json_types) else None
    return None


class StrictSerializer(serializers.Serializer):
    """Unknown fields and values of the wrong JSON type are errors, so nobody can smuggle in owner, role or status."""

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
        for name in sorted(set(data) & writable):
            message = _json_type_error(self.fields[name], data[name])
            if message:
                errors[name] = [message]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**exc.detail, **errors}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value


class FilterSerializer(serializers.Serializer):
    """Query parameters, validated like a body: a 400 naming the parameter and the reason.

    Views call `Filter.parse(request)` and get validated data; parameters a paginator reads (cursor, limit)
    are left to it. Unknown parameters are ignored, as browsers and caches add their own.
    """

    @classmethod
    def parse(cls, request) -> dict:
        serializer = cls(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class CommaSeparatedChoiceField(serializers.Field):
    """`?kinds=a,b&kinds=c` -> {"a", "b", "c"}; an unknown value is a 400 that lists the allowed ones."""

    def __init__(self, *, choices, **kwargs):
        self.choices = tuple(choices)
        super().__init__(**kwargs)

    def get_value(self, dictionary):
        if self.field_name not in dictionary:
            return serializers.empty
        return dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else dictionary[self.field_name]

    def to_internal_value(self, data) -> set[str] | None:
        raws = data if isinstance(data, list) else [data]
        values = [v.strip() for raw in raws for v in str(raw).split(",") if v.strip()]
        if not values:
            return None
        unknown = sorted(set(values) - set(self.choices))
        if unknown:
            raise serializers.ValidationError(f"Unknown: {', '.join(unknown)}. Choose from: {', '.join(self.choices)}.")
        return set(values)

    def to_representation(self, value):
        return ",".join(sorted(value))


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


def api_exception_for(exc: DomainError) -> exceptions.APIException:
    """The DRF exception that renders a domain error: the same body and status DRF gives its own."""
    if isinstance(exc, Invalid):
        return exceptions.ValidationError(exc.detail)
    error = exceptions.APIException(exc.detail)
    error.status_code = exc.status_code
    return error


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        response = drf_exception_handler(api_exception_for(exc), context)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=413)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    return drf_exception_handler(exc, context)


def not_found(request, exception=None):
    """handler404: a URL no route matches (e.g. /api/episodes/not-a-uuid/) answers JSON under /api/, like DRF's 404s."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
