"""POST /api/sync/: writes queued offline, replayed in one batch.

Every item is the body of one single-record write (see SYNC_KINDS) and is stored or refused on its
own (each write service is one transaction), with the status and body that endpoint would answer.
Order is kept; the one exception merges an out-of-order queue: a stop answered 404 because its start
comes later in the same batch is tried again once that start is stored.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from backcare.core.api import StrictSerializer, api_exception_for
from backcare.core.errors import DomainError
from backcare.core.throttling import SyncRateThrottle, WriteRateThrottle
from recovery.api.common import ClientWrite, PatientAPIView
from recovery.episodes.api.views import CHECKIN_PUT
from recovery.outcomes.api.views import RESPONSE_PUT
from recovery.treatment.api import views as treatment

# What an offline queue may hold: each kind is the write of one single-record endpoint.
SYNC_KINDS = {
    "checkin": "PUT /api/checkins/{id}/",
    "application": "PUT /api/applications/{id}/",
    "application_stop": "POST /api/applications/{id}/stop/",
    "rest": "PUT /api/rest/{id}/",
    "rest_stop": "POST /api/rest/{id}/stop/",
    "medication": "PUT /api/medications/{id}/",
    "activity": "PUT /api/activities/{id}/",
    "questionnaire_response": "PUT /api/questionnaire-responses/{id}/",
}

WRITES: dict[str, ClientWrite] = {
    "checkin": CHECKIN_PUT,
    "application": treatment.APPLICATION_PUT,
    "application_stop": treatment.APPLICATION_STOP,
    "rest": treatment.REST_PUT,
    "rest_stop": treatment.REST_STOP,
    "medication": treatment.MEDICATION_PUT,
    "activity": treatment.ACTIVITY_PUT,
    "questionnaire_response": RESPONSE_PUT,
}
if set(WRITES) != set(SYNC_KINDS):  # checked at import, also under python -O (bandit B101)
    raise RuntimeError("every sync kind needs its endpoint's write")

# A stop, and the kind of the write that starts what it stops.
STARTED_BY = {"application_stop": "application", "rest_stop": "rest"}


class SyncItemSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=list(SYNC_KINDS),
        help_text="What the queued write is: "
        + "; ".join(f"{kind} = {endpoint}" for kind, endpoint in SYNC_KINDS.items()),
    )
    id = serializers.UUIDField(help_text="The client id of the record.")
    data = serializers.DictField(help_text="The body the single-record endpoint takes.")


class SyncInputSerializer(StrictSerializer):
    items = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=200)


class SyncResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    kind = serializers.CharField(allow_null=True)
    id = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="The HTTP status the single-record endpoint would answer")
    errors = serializers.JSONField(required=False)
    record = serializers.DictField(
        required=False,
        help_text="The stored record, as the single-record endpoint answers it for this kind "
        "(check-in, application, rest period, medication intake, activity or questionnaire response).",
    )


class SyncOutputSerializer(serializers.Serializer):
    results = SyncResultSerializer(many=True)


class SyncView(PatientAPIView):
    """Replay writes queued offline. Each item is stored (or refused) on its own; order is kept."""

    throttle_classes = [WriteRateThrottle, SyncRateThrottle]

    @extend_schema(request=SyncInputSerializer, responses={200: SyncOutputSerializer}, tags=["sync"])
    def post(self, request):
        batch = SyncInputSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        items = batch.validated_data["items"]
        stops = _stops_by_id(items)
        results = [
            _sync_one(request.user, index, raw, stop=stops.get(_start_id(raw))) for index, raw in enumerate(items)
        ]
        for index, result in enumerate(results):
            if _started_later(result, results[index + 1 :]):
                results[index] = _sync_one(request.user, index, items[index])
        return Response({"results": results})


def _started_later(result: dict, later: list[dict]) -> bool:
    """A stop that found nothing to stop, whose start is stored by a later item of the batch."""
    start_kind = STARTED_BY.get(result["kind"])
    return (
        start_kind is not None
        and result["status"] == 404
        and any(r["kind"] == start_kind and r["id"] == result["id"] and r["status"] in (200, 201) for r in later)
    )


def _start_id(raw: dict) -> str | None:
    """The id of an application start without a stop (the one a stop in the batch may join)."""
    data = raw.get("data")
    if raw.get("kind") == "application" and isinstance(data, dict) and data.get("stopped_at") is None:
        return str(raw.get("id"))
    return None


def _stops_by_id(items: list[dict]) -> dict[str, object]:
    """The stop instant of each application a batch stops (the first stop item per id, anywhere in the batch)."""
    stops: dict[str, object] = {}
    for raw in items:
        data = raw.get("data")
        if raw.get("kind") == "application_stop" and isinstance(data, dict) and data.get("stopped_at"):
            stops.setdefault(str(raw.get("id")), data["stopped_at"])
    return stops


def _sync_one(user, index: int, raw: dict, *, stop=None) -> dict:
    """One item. An application start whose stop is in the same batch is written with it, in one
    transaction: a start recorded late must never exist alone, even for an instant, or the dispatcher could
    send its "take it off" reminder (planned in the past) before the stop lands. If the joined write is
    refused, the start is tried alone and the stop answers for itself, as before."""
    if stop is not None:
        joined = _sync_one(user, index, {**raw, "data": {**raw["data"], "stopped_at": stop}})
        if joined["status"] in (200, 201):
            return joined

    item = SyncItemSerializer(data=raw)
    if not item.is_valid():
        # Echo kind and id only when they are strings, as the response schema says (never "None").
        kind, client_id = (raw.get(key) if isinstance(raw.get(key), str) else None for key in ("kind", "id"))
        return {"index": index, "kind": kind, "id": client_id, "status": 400, "errors": item.errors}
    kind, client_id = item.validated_data["kind"], item.validated_data["id"]
    answer = {"index": index, "kind": kind, "id": str(client_id)}
    write = WRITES[kind]
    try:  # every write service is one transaction: a refused item leaves nothing behind
        result = write.run(patient=user, client_uuid=client_id, body=item.validated_data["data"])
    except (DomainError, ValidationError) as exc:
        status, errors = _refusal(exc)
        return {**answer, "status": status, "errors": errors}
    return {**answer, "status": 201 if result.created else 200, "record": write.output(result.record).data}


def _refusal(exc: DomainError | ValidationError) -> tuple[int, Any]:
    """The status and body the endpoint answers for a refused write, as backcare.core.api.exception_handler
    renders them: a domain error as its DRF exception, whose detail is the body (wrapped as {"detail": ...}
    when it is a bare message)."""
    error = api_exception_for(exc) if isinstance(exc, DomainError) else exc
    body = error.detail if isinstance(error.detail, list | dict) else {"detail": error.detail}
    return error.status_code, body
