import uuid
from datetime import date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from backcare.audit.services import access_record
from backcare.core.pagination import NewestFirstCursor
from backcare.core.permissions import IsPatient, IsPhysiotherapist
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


def episode_filter(request) -> uuid.UUID | None:
    """The ?episode= filter of the list endpoints: a UUID, and the caller's own episode."""
    raw = request.query_params.get("episode")
    if raw is None:
        return None
    try:
        episode_id = uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationError({"episode": ["Must be a valid UUID."]}) from exc
    # Another patient's episode is "not found", exactly like one that does not exist.
    selectors.episode_get(patient=request.user, episode_id=episode_id)
    return episode_id
