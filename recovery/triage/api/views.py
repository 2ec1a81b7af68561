from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from recovery.api.common import AUDITED, CURSOR, LIMIT, PhysioAPIView, audit_read, next_url, page_size
from recovery.triage.api import serializers as s
from recovery.triage.score import REASONS
from recovery.triage.selectors import triage_page
from recovery.triage.signals import PHASES


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
        query = s.TriageFilterSerializer.parse(request)
        page = triage_page(
            physiotherapist=request.user,
            after=query.get("cursor"),
            limit=page_size(request),
            phase=query.get("phase"),
            reasons=query.get("reason"),
            search=query.get("search"),
        )
        audit_read(request, patient_ids=[row.link.patient_id for row in page.rows], action="triage")
        next_cursor = page.next.encode() if page.next else None
        results = [s.triage_row_data(row) for row in page.rows]  # = TriageRowSerializer, built directly
        return Response({"next": next_url(request, next_cursor), "results": results})
