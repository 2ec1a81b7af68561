from django.urls import path

from recovery.timeline.api import views

urlpatterns = [
    path("physio/patients/<int:patient_id>/timeline/", views.TimelineView.as_view(), name="physio-patient-timeline"),
    path("physio/patients/<int:patient_id>/daily/", views.DailyView.as_view(), name="physio-patient-daily"),
    path("me/export/fhir/", views.MyFhirExportView.as_view(), name="me-export-fhir"),
    path("me/export/timeline.csv", views.MyCsvExportView.as_view(), name="me-export-csv"),
    path(
        "physio/patients/<int:patient_id>/export/fhir/",
        views.PhysioFhirExportView.as_view(),
        name="physio-patient-export-fhir",
    ),
    path(
        "physio/patients/<int:patient_id>/export/timeline.csv",
        views.PhysioCsvExportView.as_view(),
        name="physio-patient-export-csv",
    ),
]
