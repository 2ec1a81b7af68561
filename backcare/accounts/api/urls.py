from django.urls import path

from . import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/profile/", views.ProfileView.as_view(), name="me-profile"),
]

from .deletion_views import AccountDeleteView  # noqa: E402

urlpatterns += [path("me/delete/", AccountDeleteView.as_view(), name="me-delete")]
