from django.urls import path

from recovery.triage.api import alerts, views

urlpatterns = [
    path("physio/patients/", views.TriageView.as_view(), name="physio-triage"),
    path("physio/alerts/", alerts.AlertListView.as_view(), name="physio-alerts"),
    path("physio/alerts/<int:alert_id>/acknowledge/", alerts.AlertAcknowledgeView.as_view(), name="physio-alert-ack"),
]
