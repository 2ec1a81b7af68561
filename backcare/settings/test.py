"""pytest: real PostgreSQL and Redis on localhost (override with DATABASE_URL / REDIS_URL)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/backcare")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")

from .base import *  # noqa: E402, F403
from .base import BACKCARE_VAPID_SUBJECT, CACHES, REST_FRAMEWORK, env  # noqa: E402

DEBUG = False
SECRET_KEY = "test-only-secret-key-with-enough-length-to-be-realistic-0123456789"  # nosec B105  # test settings only
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Throttles are tested where they matter; elsewhere they would make tests order-dependent.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(
        ("auth", "push_test", "write", "sync", *REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]), "10000/min"
    ),
}
# Throttle and sign-in counters: a prefix of this test process's own (two runs may share a Redis database),
# emptied before each test (tests/conftest.py). The keys expire on their own.
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": f"backcare-test-{os.getpid()}"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True

# Push: an ephemeral VAPID key per test process unless one is given; endpoints on 127.0.0.1 (the loopback
# receiver in tests/support/push_receiver.py) are allowed. No test may reach a real push service: the
# library's fallback for registration ids that are not full https:// endpoints is pointed at a closed
# loopback port (the devices API never stores such ids anyway).
from backcare.push.vapid import generate_private_key, private_key_to_pem, push_settings  # noqa: E402

_push = push_settings(
    private_key=env.str("BACKCARE_VAPID_PRIVATE_KEY", default="")
    or private_key_to_pem(generate_private_key()).decode(),
    public_key=env.str("BACKCARE_VAPID_PUBLIC_KEY", default=""),
    subject=BACKCARE_VAPID_SUBJECT,
    required=True,
)
BACKCARE_VAPID_PRIVATE_KEY = _push.private_key
BACKCARE_VAPID_PUBLIC_KEY = _push.public_key
PUSH_NOTIFICATIONS_SETTINGS = {
    **_push.library,
    "WP_POST_URL": dict.fromkeys(
        ("CHROME", "OPERA", "FIREFOX", "EDGE", "SAFARI"), "https://127.0.0.1:9/not-a-push-service"
    ),
    "FCM_POST_URL": "https://127.0.0.1:9/not-a-push-service",
}
# Only the loopback receiver: no endpoint a test registers can point off this machine (the sender checks
# this list again before every post). Tests of the real push hosts override it with PUSH_SERVICE_HOSTS.
BACKCARE_PUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
# ... which is a loopback IP literal on a random port: allowed here, and only here (and local, bench).
BACKCARE_PUSH_ALLOW_LOOPBACK = True

# The triage queue is ranked by the database and the page scored again in Python: in tests a disagreement fails.
BACKCARE_TRIAGE_RANK_STRICT = True

# FCM and APNs stay off unless a test configures them against its loopback stand-in; even then, nothing a
# test leaves unset may point at Google or Apple.
BACKCARE_FCM_SEND_URL = env.str(
    "BACKCARE_FCM_SEND_URL", default="https://127.0.0.1:9/v1/projects/{project_id}/messages:send"
)
BACKCARE_APNS_HOST = env.str("BACKCARE_APNS_HOST", default="127.0.0.1:9")
BACKCARE_SEED_DEMO_ALLOWED = True
