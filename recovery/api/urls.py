from django.urls import path

from . import sync, views

urlpatterns = [
    path("episodes/", views.EpisodeListView.as_view(), name="episode-list"),
    path("episodes/<uuid:episode_id>/", views.EpisodeDetailView.as_view(), name="episode-detail"),
    path("episodes/<uuid:episode_id>/resolve/", views.EpisodeResolveView.as_view(), name="episode-resolve"),
    path("episodes/<uuid:episode_id>/daily/", views.EpisodeDailyView.as_view(), name="episode-daily"),
    path("checkins/", views.CheckInListView.as_view(), name="checkin-list"),
    path("checkins/<uuid:checkin_id>/", views.CheckInDetailView.as_view(), name="checkin-detail"),
    path("sync/", sync.SyncView.as_view(), name="sync"),
]

from . import treatment_views as tv  # noqa: E402

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

from . import reminder_views as rv  # noqa: E402

urlpatterns += [
    path("reminders/", rv.ReminderListView.as_view(), name="reminder-list"),
    path("reminders/ack/", rv.ReminderTokenAckView.as_view(), name="reminder-token-ack"),
    path("reminders/<int:reminder_id>/ack/", rv.ReminderAckView.as_view(), name="reminder-ack"),
]
