"""The real API plus the plain-Django baseline routes under /bench/baseline/."""

from django.urls import include, path

from bench.support import baseline, timeline_baseline

urlpatterns = [
    path("bench/baseline/checkins/", baseline.checkin_list, name="bench-baseline-checkin-list"),
    path("bench/baseline/checkins/<uuid:checkin_id>/", baseline.checkin_put, name="bench-baseline-checkin-put"),
    path("bench/baseline/timeline/<int:patient_id>/", timeline_baseline.timeline, name="bench-baseline-timeline"),
    path("bench/baseline/triage/", timeline_baseline.triage, name="bench-baseline-triage"),
    path(
        "bench/baseline/triage-summaries/",
        timeline_baseline.triage_summaries,
        name="bench-baseline-triage-summaries",
    ),
    path("", include("backcare.urls")),
]
