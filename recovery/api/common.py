import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from backcare.audit.services import AccessContext
from backcare.core.api import CommaSeparatedChoiceField, FilterSerializer
from backcare.core.pagination import NewestFirstCursor
from backcare.core.permissions import IsPatient, IsPhysiotherapist
from backcare.core.replay import Written
from recovery.care import selectors as care_selectors
from recovery.care import services as care_services
from recovery.episodes import selectors

AUDITED = {503: OpenApiResponse(description="The access could not be written to the access log; nothing is shown.")}


PATIENT_ID = OpenApiParameter("patient_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The patient's id")


def access_context(request) -> AccessContext:
    """The request, as the access log names it: its path, the server's id, the client's id and address."""
    return AccessContext.of(request)


def audit_read(request, *, patient_ids, action: str) -> None:
    """Record that the caller is shown these patients' data. Raises (503) if it cannot: answer nothing then.

    For views that do not yet read through an audited care service (care_patient_read).
    """
    care_services.care_access_record(
        physiotherapist=request.user, patient_ids=patient_ids, action=action, access=access_context(request)
    )


def page_size(request) -> int:
    return NewestFirstCursor().get_page_size(request)


def next_url(request, cursor: str | None) -> str | None:
    return replace_query_param(request.build_absolute_uri(), "cursor", cursor) if cursor else None


# --- query parameters --------------------------------------------------------------------------------


class AsSent:
    """The parameter as sent: `?since=` is a value to judge (a 400), not an absent one as in DRF's form handling."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class LocalDateField(AsSent, serializers.DateField):
    """A calendar day, YYYY-MM-DD (as date.fromisoformat reads it)."""

    default_error_messages = {"invalid": "Must be a date, YYYY-MM-DD."}

    def to_internal_value(self, value) -> date:
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail("invalid")


class QueryUUIDField(AsSent, serializers.UUIDField):
    pass


class QueryChoiceField(AsSent, serializers.ChoiceField):
    """One of `choices` (plain values); anything else is "Must be one of ..." naming them."""

    def __init__(self, *, choices: list[str], **kwargs):
        super().__init__(
            choices=choices, error_messages={"invalid_choice": f"Must be one of {', '.join(choices)}."}, **kwargs
        )


class DateRangeFilter(FilterSerializer):
    """?since= and ?until=: local days in the patient's zone, both inclusive."""

    since = LocalDateField(required=False)
    until = LocalDateField(required=False)

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since > until:
            raise ValidationError({"until": ["Must not be before since."]})
        return attrs


class EpisodeFilter(FilterSerializer):
    """?episode=: a UUID (as `episode_id`). Whether it is the patient's is for the read to say."""

    episode = QueryUUIDField(required=False, source="episode_id")


def episode_param(request, patient):
    """The ?episode= filter as the patient's Episode (400 if not theirs). For views not yet on EpisodeFilter."""
    episode_id = EpisodeFilter.parse(request).get("episode_id")
    if episode_id is None:
        return None
    return care_selectors.patient_episode_get(patient=patient, episode_id=episode_id)


def list_param(request, name: str, allowed) -> set[str] | None:
    """?name=a,b as a set of allowed values. For views not yet on a FilterSerializer (CommaSeparatedChoiceField)."""
    field = CommaSeparatedChoiceField(choices=allowed, required=False)
    return type("ListFilter", (FilterSerializer,), {name: field}).parse(request).get(name)


CURSOR = OpenApiParameter("cursor", str, description="The `next` link's cursor")


LIMIT = OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (default 50; values above 200 are capped).")


SINCE = OpenApiParameter("since", OpenApiTypes.DATE, description="From this local day (patient's zone), inclusive")


UNTIL = OpenApiParameter("until", OpenApiTypes.DATE, description="To this local day (patient's zone), inclusive")


EPISODE = OpenApiParameter("episode", OpenApiTypes.UUID, description="Only this episode of the patient")


class PhysioAPIView(APIView):
    permission_classes = [IsPhysiotherapist]


class PatientAPIView(APIView):
    permission_classes = [IsPatient]


def episode_filter(request) -> uuid.UUID | None:
    """The ?episode= filter of the list endpoints: a UUID, and the caller's own episode.

    For list views whose selector does not check the episode itself yet (reminders); the others parse
    EpisodeFilter and pass the id to their selector.
    """
    episode_id = EpisodeFilter.parse(request).get("episode_id")
    if episode_id is not None:
        selectors.episode_get(patient=request.user, episode_id=episode_id)
    return episode_id


@dataclass(frozen=True)
class ClientWrite:
    """One write under a client id as its endpoint takes it: the body's serializer, the service (called with
    patient=, client_uuid= and the validated body), the record's serializer. The endpoint and the offline
    batch (recovery/api/sync.py) both run it, so an item of the batch is answered as its endpoint would."""

    input: type[serializers.Serializer]
    service: Callable[..., Any]
    output: type[serializers.Serializer]

    def run(self, *, patient, client_uuid: uuid.UUID, body: Any) -> Written:
        data = self.input(data=body)
        data.is_valid(raise_exception=True)
        result = self.service(patient=patient, client_uuid=client_uuid, **data.validated_data)
        return result if isinstance(result, Written) else Written(result, False)  # a stop creates nothing

    def answer(self, request, client_uuid: uuid.UUID) -> Response:
        """The endpoint's answer: 201 with the record if this call stored it, else 200."""
        result = self.run(patient=request.user, client_uuid=client_uuid, body=request.data)
        return Response(
            self.output(result.record).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
