from django.urls import path

from recovery.care.api import views

urlpatterns = [
    path("care/redeem/", views.RedeemView.as_view(), name="care-redeem"),
    path("care/links/", views.CareLinkListView.as_view(), name="care-link-list"),
    path("care/links/<uuid:link_id>/revoke/", views.CareLinkRevokeView.as_view(), name="care-link-revoke"),
    path("care/access-log/", views.AccessLogView.as_view(), name="care-access-log"),
    path("physio/invites/", views.InviteListView.as_view(), name="physio-invite-list"),
    path("physio/patients/<int:patient_id>/", views.PatientDetailView.as_view(), name="physio-patient-detail"),
    path("physio/patients/<int:patient_id>/notes/", views.NoteListView.as_view(), name="physio-patient-notes"),
    path("physio/patients/<int:patient_id>/reviewed/", views.ReviewedView.as_view(), name="physio-patient-reviewed"),
    path("physio/patients/<int:patient_id>/discharge/", views.DischargeView.as_view(), name="physio-patient-discharge"),
]
