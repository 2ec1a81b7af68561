from django.urls import path

from recovery.triage.api import views

urlpatterns = [
    path("physio/patients/", views.TriageView.as_view(), name="physio-triage"),
]
