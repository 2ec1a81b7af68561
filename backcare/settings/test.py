"""pytest: real PostgreSQL and Redis on localhost (override with DATABASE_URL / REDIS_URL)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/backcare")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")

from .base import *  # noqa: E402, F403
from .base import REST_FRAMEWORK  # noqa: E402

DEBUG = False
SECRET_KEY = "test-only-secret-key-with-enough-length-to-be-realistic-0123456789"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Throttles are tested where they matter; elsewhere they would make tests order-dependent.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "10000/min"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
