import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from backcare.audit.services import access_record
from backcare.core.api import FilterSerializer
from backcare.core.pagination import NewestFirstCursor
from backcare.core.permissions import IsPatient, IsPhysiotherapist
from backcare.core.replay import Written
from recovery.care import selectors as care_selectors
from recovery.episodes import selectors

AUDITED = {503: OpenApiResponse(description="The access could not be written to the access log; nothing is shown.")}


PATIENT_ID = OpenApiParameter("patient_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The patient's id")


def audit_read(request, *, patient_ids, action: str) -> None:
    """Record that the caller is shown these patients' data. Raises (503) if it cannot: answer nothing then."""
    access_record(
        actor=request.user,
        patient_ids=patient_ids,
        action=action,
        path=request.get_full_path(),
        request_id=getattr(request, "request_id", "") or uuid.uuid4().hex,
    )


def page_size(request) -> int:
    return NewestFirstCursor().get_page_size(request)


def next_url(request, cursor: str | None) -> str | None:
    return replace_query_param(request.build_absolute_uri(), "cursor", cursor) if cursor else None


def date_param(request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError({name: ["Must be a date, YYYY-MM-DD."]}) from exc


def date_range(request) -> tuple[date | None, date | None]:
    since, until = date_param(request, "since"), date_param(request, "until")
    if since is not None and until is not None and since > until:
        raise ValidationError({"until": ["Must not be before since."]})
    return since, until


def episode_param(request, patient):
    raw = request.query_params.get("episode")
    if raw is None:
        return None
    try:
        episode_id = uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationError({"episode": ["Must be a valid UUID."]}) from exc
    return care_selectors.patient_episode_get(patient=patient, episode_id=episode_id)


def list_param(request, name: str, allowed) -> set[str] | None:
    values = [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]
    if not values:
        return None
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError({name: [f"Unknown: {', '.join(unknown)}. Choose from: {', '.join(allowed)}."]})
    return set(values)


CURSOR = OpenApiParameter("cursor", str, description="The `next` link's cursor")


LIMIT = OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (default 50; values above 200 are capped).")


SINCE = OpenApiParameter("since", OpenApiTypes.DATE, description="From this local day (patient's zone), inclusive")


UNTIL = OpenApiParameter("until", OpenApiTypes.DATE, description="To this local day (patient's zone), inclusive")


EPISODE = OpenApiParameter("episode", OpenApiTypes.UUID, description="Only this episode of the patient")


class PhysioAPIView(APIView):
    permission_classes = [IsPhysiotherapist]


class PatientAPIView(APIView):
    permission_classes = [IsPatient]


class _QueryUUIDField(serializers.UUIDField):
    def get_value(self, dictionary):
        # DRF reads a query string like a form, where an empty value means "absent"; `?episode=` is a malformed UUID.
        return dictionary.get(self.field_name, serializers.empty)


class EpisodeFilter(FilterSerializer):
    """`?episode=`: only the records of this episode. The selector checks it is the caller's (404 if not)."""

    episode = _QueryUUIDField(required=False)


def episode_filter(request) -> uuid.UUID | None:
    """The ?episode= filter of the list endpoints: a UUID, and the caller's own episode.

    For list views whose selector does not check the episode itself yet (reminders); the others parse
    EpisodeFilter and pass the id to their selector.
    """
    episode_id = EpisodeFilter.parse(request).get("episode")
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
