from django.urls import path

from recovery.episodes.api import views

urlpatterns = [
    path("episodes/", views.EpisodeListView.as_view(), name="episode-list"),
    path("episodes/<uuid:episode_id>/", views.EpisodeDetailView.as_view(), name="episode-detail"),
    path("episodes/<uuid:episode_id>/resolve/", views.EpisodeResolveView.as_view(), name="episode-resolve"),
    path("episodes/<uuid:episode_id>/resume/", views.EpisodeResumeView.as_view(), name="episode-resume"),
    path("episodes/<uuid:episode_id>/daily/", views.EpisodeDailyView.as_view(), name="episode-daily"),
    path("checkins/", views.CheckInListView.as_view(), name="checkin-list"),
    path("checkins/<uuid:checkin_id>/", views.CheckInDetailView.as_view(), name="checkin-detail"),
]
