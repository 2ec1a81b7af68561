"""The real API plus the plain-Django baseline routes under /bench/baseline/."""

from django.urls import include, path

from bench.support import baseline

urlpatterns = [
    path("bench/baseline/checkins/", baseline.checkin_list, name="bench-baseline-checkin-list"),
    path("bench/baseline/checkins/<uuid:checkin_id>/", baseline.checkin_put, name="bench-baseline-checkin-put"),
    path("", include("backcare.urls")),
]
