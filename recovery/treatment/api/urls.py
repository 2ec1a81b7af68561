from django.urls import path

from recovery.treatment.api import views

urlpatterns = [
    path("episodes/<uuid:episode_id>/state/", views.EpisodeStateView.as_view(), name="episode-state"),
    path("episodes/<uuid:episode_id>/protocol/", views.EpisodeProtocolView.as_view(), name="episode-protocol"),
    path("applications/", views.ApplicationListView.as_view(), name="application-list"),
    path("applications/<uuid:application_id>/", views.ApplicationDetailView.as_view(), name="application-detail"),
    path("applications/<uuid:application_id>/stop/", views.ApplicationStopView.as_view(), name="application-stop"),
    path("rest/", views.RestListView.as_view(), name="rest-list"),
    path("rest/<uuid:rest_id>/", views.RestDetailView.as_view(), name="rest-detail"),
    path("rest/<uuid:rest_id>/stop/", views.RestStopView.as_view(), name="rest-stop"),
    path("medications/", views.MedicationListView.as_view(), name="medication-list"),
    path("medications/<uuid:medication_id>/", views.MedicationDetailView.as_view(), name="medication-detail"),
    path("activities/", views.ActivityListView.as_view(), name="activity-list"),
    path("activities/<uuid:activity_id>/", views.ActivityDetailView.as_view(), name="activity-detail"),
    path("physio/patients/<int:patient_id>/protocol/", views.ProtocolView.as_view(), name="physio-patient-protocol"),
]
