from django.urls import path

from recovery.api import sync
from recovery.episodes.api import views

urlpatterns = [
    path("episodes/", views.EpisodeListView.as_view(), name="episode-list"),
    path("episodes/<uuid:episode_id>/", views.EpisodeDetailView.as_view(), name="episode-detail"),
    path("episodes/<uuid:episode_id>/resolve/", views.EpisodeResolveView.as_view(), name="episode-resolve"),
    path("episodes/<uuid:episode_id>/daily/", views.EpisodeDailyView.as_view(), name="episode-daily"),
    path("checkins/", views.CheckInListView.as_view(), name="checkin-list"),
    path("checkins/<uuid:checkin_id>/", views.CheckInDetailView.as_view(), name="checkin-detail"),
    path("sync/", sync.SyncView.as_view(), name="sync"),
]

from recovery.treatment.api import views as tv  # noqa: E402

urlpatterns += [
    path("episodes/<uuid:episode_id>/state/", tv.EpisodeStateView.as_view(), name="episode-state"),
    path("applications/", tv.ApplicationListView.as_view(), name="application-list"),
    path("applications/<uuid:application_id>/", tv.ApplicationDetailView.as_view(), name="application-detail"),
    path("applications/<uuid:application_id>/stop/", tv.ApplicationStopView.as_view(), name="application-stop"),
    path("episodes/<uuid:episode_id>/protocol/", tv.EpisodeProtocolView.as_view(), name="episode-protocol"),
    path("rest/", tv.RestListView.as_view(), name="rest-list"),
    path("rest/<uuid:rest_id>/", tv.RestDetailView.as_view(), name="rest-detail"),
    path("rest/<uuid:rest_id>/stop/", tv.RestStopView.as_view(), name="rest-stop"),
    path("medications/", tv.MedicationListView.as_view(), name="medication-list"),
    path("medications/<uuid:medication_id>/", tv.MedicationDetailView.as_view(), name="medication-detail"),
    path("activities/", tv.ActivityListView.as_view(), name="activity-list"),
    path("activities/<uuid:activity_id>/", tv.ActivityDetailView.as_view(), name="activity-detail"),
]

from recovery.reminders.api import views as rv  # noqa: E402

urlpatterns += [
    path("reminders/", rv.ReminderListView.as_view(), name="reminder-list"),
    path("reminders/ack/", rv.ReminderTokenAckView.as_view(), name="reminder-token-ack"),
    path("reminders/<int:reminder_id>/ack/", rv.ReminderAckView.as_view(), name="reminder-ack"),
]

from recovery.care.api import views as cv  # noqa: E402

urlpatterns += [
    path("care/redeem/", cv.RedeemView.as_view(), name="care-redeem"),
    path("care/links/", cv.CareLinkListView.as_view(), name="care-link-list"),
    path("care/links/<uuid:link_id>/revoke/", cv.CareLinkRevokeView.as_view(), name="care-link-revoke"),
    path("care/access-log/", cv.AccessLogView.as_view(), name="care-access-log"),
    path("physio/invites/", cv.InviteListView.as_view(), name="physio-invite-list"),
    path("physio/patients/", cv.TriageView.as_view(), name="physio-triage"),
    path("physio/patients/<int:patient_id>/", cv.PatientDetailView.as_view(), name="physio-patient-detail"),
    path("physio/patients/<int:patient_id>/timeline/", cv.TimelineView.as_view(), name="physio-patient-timeline"),
    path("physio/patients/<int:patient_id>/daily/", cv.DailyView.as_view(), name="physio-patient-daily"),
    path("physio/patients/<int:patient_id>/notes/", cv.NoteListView.as_view(), name="physio-patient-notes"),
    path("physio/patients/<int:patient_id>/protocol/", cv.ProtocolView.as_view(), name="physio-patient-protocol"),
    path("physio/patients/<int:patient_id>/reviewed/", cv.ReviewedView.as_view(), name="physio-patient-reviewed"),
    path("physio/patients/<int:patient_id>/discharge/", cv.DischargeView.as_view(), name="physio-patient-discharge"),
]

from recovery.timeline.api import views as ev  # noqa: E402

urlpatterns += [
    path("me/export/", ev.MyExportView.as_view(), name="me-export"),
    path("me/export/fhir/", ev.MyFhirExportView.as_view(), name="me-export-fhir"),
    path("me/export/timeline.csv", ev.MyCsvExportView.as_view(), name="me-export-csv"),
    path(
        "physio/patients/<int:patient_id>/export/fhir/",
        ev.PhysioFhirExportView.as_view(),
        name="physio-patient-export-fhir",
    ),
    path(
        "physio/patients/<int:patient_id>/export/timeline.csv",
        ev.PhysioCsvExportView.as_view(),
        name="physio-patient-export-csv",
    ),
]
