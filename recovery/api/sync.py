"""POST /api/sync/: writes queued offline, replayed in one batch.

Every item is the body of one single-record write (see SYNC_KINDS) and is stored or refused on its
own, in its own savepoint, with the status that endpoint would answer. Order is kept; the one
exception merges an out-of-order queue: a stop answered 404 because its start comes later in the
same batch is tried again once that start is stored.
"""

import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from recovery.api.common import PatientAPIView
from recovery.episodes.api import serializers as s
from recovery.episodes.api.views import checkin_put_from
from recovery.treatment.api import serializers as ts
from recovery.treatment.api import views as tv


def _checkin(user, client_id: uuid.UUID, body) -> tuple[Any, bool]:
    result = checkin_put_from(user, client_id, body)
    return s.CheckInOutputSerializer(result.checkin).data, result.created


def _writer(write, output) -> Callable[[Any, uuid.UUID, Any], tuple[Any, bool]]:
    def run(user, client_id: uuid.UUID, body) -> tuple[Any, bool]:
        result = write(user, client_id, body)
        return output(result.record).data, result.created

    return run


WRITERS: dict[str, Callable[[Any, uuid.UUID, Any], tuple[Any, bool]]] = {
    "checkin": _checkin,
    "application": _writer(tv.application_put_from, ts.ApplicationOutputSerializer),
    "application_stop": _writer(tv.application_stop_from, ts.ApplicationOutputSerializer),
    "rest": _writer(tv.rest_put_from, ts.RestOutputSerializer),
    "rest_stop": _writer(tv.rest_stop_from, ts.RestOutputSerializer),
    "medication": _writer(tv.medication_put_from, ts.MedicationOutputSerializer),
    "activity": _writer(tv.activity_put_from, ts.ActivityOutputSerializer),
}
assert set(WRITERS) == set(s.SYNC_KINDS), "every sync kind needs a writer"

# A stop, and the kind of the write that starts what it stops.
STARTED_BY = {"application_stop": "application", "rest_stop": "rest"}


class SyncView(PatientAPIView):
    """Replay writes queued offline. Each item is stored (or refused) on its own; order is kept."""

    @extend_schema(request=s.SyncInputSerializer, responses={200: s.SyncOutputSerializer}, tags=["sync"])
    def post(self, request):
        batch = s.SyncInputSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        items = batch.validated_data["items"]
        results = [_sync_one(request.user, index, raw) for index, raw in enumerate(items)]
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


def _sync_one(user, index: int, raw: dict) -> dict:
    item = s.SyncItemSerializer(data=raw)
    if not item.is_valid():
        # Echo kind and id only when they are strings, as the response schema says (never "None").
        kind, client_id = (raw.get(key) if isinstance(raw.get(key), str) else None for key in ("kind", "id"))
        return {"index": index, "kind": kind, "id": client_id, "status": 400, "errors": item.errors}
    kind, client_id = item.validated_data["kind"], item.validated_data["id"]
    answer = {"index": index, "kind": kind, "id": str(client_id)}
    try:
        with transaction.atomic():
            record, created = WRITERS[kind](user, client_id, item.validated_data["data"])
    except APIException as exc:
        return {**answer, "status": exc.status_code, "errors": exc.detail}
    except Http404 as exc:
        return {**answer, "status": 404, "errors": {"detail": str(exc) or "Not found."}}
    return {**answer, "status": 201 if created else 200, "record": record}
