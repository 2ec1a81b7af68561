from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from recovery.api.common import AUDITED, CURSOR, LIMIT, PhysioAPIView, audit_read, list_param, next_url, page_size
from recovery.triage.api import serializers as s
from recovery.triage.selectors import PHASES, REASONS, TriageCursor, triage_page


class TriageView(PhysioAPIView):
    @extend_schema(
        parameters=[
            CURSOR,
            LIMIT,
            OpenApiParameter("phase", str, enum=PHASES, description="Only patients in this phase"),
            OpenApiParameter(
                "reason", str, description=f"Only patients with any of these (comma-separated): {', '.join(REASONS)}"
            ),
            OpenApiParameter("search", str, description="Name or email contains"),
        ],
        responses={200: s.TriagePageSerializer, **AUDITED},
        operation_id="physio_triage",
        tags=["physio"],
    )
    def get(self, request):
        """The triage queue: my patients, the ones who need attention first."""
        limit = page_size(request)
        after = None
        if "cursor" in request.query_params:
            try:
                after = TriageCursor.decode(request.query_params["cursor"])
            except ValueError as exc:
                raise NotFound("Invalid cursor.") from exc
        phase = request.query_params.get("phase")
        if phase is not None and phase not in PHASES:
            raise ValidationError({"phase": [f"Must be one of {', '.join(PHASES)}."]})
        search = (request.query_params.get("search") or "").strip()[:100] or None
        page = triage_page(
            physiotherapist=request.user,
            after=after,
            limit=limit,
            phase=phase,
            reasons=list_param(request, "reason", REASONS),
            search=search,
        )
        audit_read(request, patient_ids=[row.link.patient_id for row in page.rows], action="triage")
        next_cursor = page.next.encode() if page.next else None
        results = [s.triage_row_data(row) for row in page.rows]  # = TriageRowSerializer, built directly
        return Response({"next": next_url(request, next_cursor), "results": results})
