"""Production: every value that matters must come from the environment, or start-up fails."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import BACKCARE_VAPID_SUBJECT, DATABASES, env, env_bool, push_settings

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a random string of at least 50 characters")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name at least one host")
env.str("DATABASE_URL")  # required: no SQLite fallback in production
REDIS_URL = env.str("REDIS_URL")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Push: the VAPID private key is required (browsers are subscribed to its public half; a new key orphans
# every WebPush subscription, so it is configuration, never generated here).
_push = push_settings(
    private_key=env.str("BACKCARE_VAPID_PRIVATE_KEY", default=""),
    public_key=env.str("BACKCARE_VAPID_PUBLIC_KEY", default=""),
    subject=BACKCARE_VAPID_SUBJECT,
    required=True,
)
BACKCARE_VAPID_PRIVATE_KEY = _push.private_key
BACKCARE_VAPID_PUBLIC_KEY = _push.public_key
PUSH_NOTIFICATIONS_SETTINGS = _push.library
# Never in production: the loopback stand-in for a push service is for tests, benches and local runs.
BACKCARE_PUSH_ALLOW_LOOPBACK = False
