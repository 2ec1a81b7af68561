from django.urls import path

from . import views

# The fixed paths come before <slug>, and the loader refuses items with those slugs. "library/for-me/" is
# recovery's (recovery/api/library.py), resolved first because backcare/urls.py includes recovery's urls first.
urlpatterns = [
    path("library/", views.LibraryListView.as_view(), name="library-list"),
    path("library/red-flags/", views.RedFlagChecklistView.as_view(), name="library-red-flags"),
    path("library/<slug:slug>/", views.LibraryDetailView.as_view(), name="library-detail"),
]
