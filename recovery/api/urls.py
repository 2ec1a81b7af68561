"""The recovery API: each domain's routes, plus the two that span them all (the offline batch and the
patient's own export)."""

from django.urls import include, path

from recovery.api import export, sync

urlpatterns = [
    path("", include("recovery.episodes.api.urls")),
    path("", include("recovery.treatment.api.urls")),
    path("", include("recovery.reminders.api.urls")),
    path("", include("recovery.care.api.urls")),
    path("", include("recovery.triage.api.urls")),
    path("", include("recovery.timeline.api.urls")),
    path("sync/", sync.SyncView.as_view(), name="sync"),
    path("me/export/", export.MyExportView.as_view(), name="me-export"),
]
