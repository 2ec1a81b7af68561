from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from backcare.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("healthz/", healthz),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's settings come as a script file and Redoc starts from its tag: no inline script (see the docs' CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="core/redoc.html"), name="api-redoc"
    ),
    path("api/", include("backcare.accounts.api.urls")),
    path("api/", include("recovery.api.urls")),
    path("api/", include("backcare.push.api.urls")),
    path("api/", include("content.api.urls")),
    # The web app (PWA): the shell at /, its manifest, service worker and offline page.
    path("", include("backcare.web.urls")),
]

handler404 = "backcare.core.api.not_found"
