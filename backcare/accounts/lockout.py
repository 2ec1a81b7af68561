from django.conf import settings
from django.http import JsonResponse


def lockout_response(request, original_response=None, credentials=None) -> JsonResponse:
    """What django-axes answers when a sign-in is refused after too many failures (AXES_LOCKOUT_CALLABLE)."""
    response = JsonResponse({"detail": "Too many failed sign-in attempts. Try again later."}, status=429)
    # Each refused attempt restarts the cool-off, so the whole cool-off is the honest wait.
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
