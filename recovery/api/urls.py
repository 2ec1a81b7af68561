"""The recovery API: each domain's routes, plus those that span them (the offline batch, the patient's own
export) and the library's guidance for the patient's episode (library.py)."""

from django.urls import include, path

from recovery.api import export, library, sync

urlpatterns = [
    path("", include("recovery.episodes.api.urls")),
    path("", include("recovery.treatment.api.urls")),
    path("", include("recovery.reminders.api.urls")),
    path("", include("recovery.care.api.urls")),
    path("", include("recovery.triage.api.urls")),
    path("", include("recovery.timeline.api.urls")),
    path("", include("recovery.outcomes.api.urls")),
    path("sync/", sync.SyncView.as_view(), name="sync"),
    path("me/export/", export.MyExportView.as_view(), name="me-export"),
    # Before content's "library/<slug>/": backcare/urls.py includes these urls first.
    path("library/for-me/", library.GuidanceView.as_view(), name="library-for-me"),
]
