"""`make run`: the embedded default (SQLite + filesystem broker unless DATABASE_URL/REDIS_URL)."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import BACKCARE_PUSH_ENDPOINT_HOSTS, BACKCARE_VAPID_SUBJECT, VAR_DIR, env, env_bool, push_settings

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-development-key-never-use-in-production")

# Push: without BACKCARE_VAPID_PRIVATE_KEY, the development key `make run` creates
# (`manage.py vapid_keys --ensure var/vapid_private.pem`); without that file, push is not configured.
LOCAL_VAPID_KEY_FILE = VAR_DIR / "vapid_private.pem"
if not env.str("BACKCARE_VAPID_PRIVATE_KEY", default="") and LOCAL_VAPID_KEY_FILE.is_file():
    try:
        _push = push_settings(
            private_key=LOCAL_VAPID_KEY_FILE.read_text(),
            public_key=env.str("BACKCARE_VAPID_PUBLIC_KEY", default=""),
            subject=BACKCARE_VAPID_SUBJECT,
            required=False,
        )
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(
            f"{LOCAL_VAPID_KEY_FILE} (read because BACKCARE_VAPID_PRIVATE_KEY is unset): {exc}"
        ) from None
    BACKCARE_VAPID_PRIVATE_KEY = _push.private_key
    BACKCARE_VAPID_PUBLIC_KEY = _push.public_key
    PUSH_NOTIFICATIONS_SETTINGS = _push.library
# A loopback receiver (bench/, manual tries) may stand in for a push service on a developer's machine.
BACKCARE_PUSH_ENDPOINT_HOSTS = [*BACKCARE_PUSH_ENDPOINT_HOSTS, "127.0.0.1", "localhost"]
BACKCARE_PUSH_ALLOW_LOOPBACK = True

# The demo accounts (published password) are for a developer's machine.
BACKCARE_SEED_DEMO_ALLOWED = True
