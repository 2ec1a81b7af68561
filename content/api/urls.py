from django.urls import path

from . import views

# The fixed paths come before <slug>, and the loader refuses items with those slugs.
urlpatterns = [
    path("library/", views.LibraryListView.as_view(), name="library-list"),
    path("library/for-me/", views.GuidanceView.as_view(), name="library-for-me"),
    path("library/red-flags/", views.RedFlagChecklistView.as_view(), name="library-red-flags"),
    path("library/<slug:slug>/", views.LibraryDetailView.as_view(), name="library-detail"),
]
