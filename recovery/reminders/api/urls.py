from django.urls import path

from recovery.reminders.api import views

urlpatterns = [
    path("reminders/", views.ReminderListView.as_view(), name="reminder-list"),
    path("reminders/ack/", views.ReminderTokenAckView.as_view(), name="reminder-token-ack"),
    path("reminders/<int:reminder_id>/", views.ReminderDetailView.as_view(), name="reminder-detail"),
    path("reminders/<int:reminder_id>/ack/", views.ReminderAckView.as_view(), name="reminder-ack"),
]
