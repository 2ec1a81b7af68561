from django.urls import path

from recovery.outcomes.api import views

urlpatterns = [
    path("questionnaires/", views.QuestionnaireListView.as_view(), name="questionnaire-list"),
    path("questionnaires/open/", views.QuestionnaireOpenView.as_view(), name="questionnaire-open"),
    path("questionnaires/<slug:code>/", views.QuestionnaireDetailView.as_view(), name="questionnaire-detail"),
    path("questionnaire-responses/", views.ResponseListView.as_view(), name="questionnaire-response-list"),
    path(
        "questionnaire-responses/<uuid:response_id>/",
        views.ResponseDetailView.as_view(),
        name="questionnaire-response-detail",
    ),
    path(
        "physio/patients/<int:patient_id>/outcomes/", views.PhysioOutcomesView.as_view(), name="physio-patient-outcomes"
    ),
]
