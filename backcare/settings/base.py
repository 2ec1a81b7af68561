"""Settings shared by every environment. Values come from the environment (django-environ).

Over 400 lines on purpose: one flat list of settings, each beside the reason for its value; splitting it would
only scatter what an operator reads top to bottom.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from backcare.push.vapid import DEFAULT_SUBJECT, push_settings

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Like env.bool, but a value that is neither true nor false fails loudly."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "push_notifications",
    "backcare.push",
    "backcare.core",
    "backcare.accounts",
    "backcare.audit",
    "content",
    "recovery",
    "backcare.web",
]

MIDDLEWARE = [
    "backcare.core.middleware.RequestIdMiddleware",
    "backcare.core.middleware.RequestBodyLimitMiddleware",
    "backcare.core.middleware.ApiNotFoundMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "backcare.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backcare.urls"
WSGI_APPLICATION = "backcare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backcare" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let web, worker and beat share one file without
    # "database is locked" errors on concurrent writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The API's queries are short: PostgreSQL's JIT compiler costs 80-150 ms whenever a plan's estimate
    # crosses jit_above_cost (correlated subqueries over 500 patients do) and never pays that back here.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# JSON bodies above this size are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("BACKCARE_MAX_BODY_BYTES", default=512 * 1024)

REST_FRAMEWORK = {
    # Token first: DRF takes the WWW-Authenticate challenge from the first class, and only a class
    # that has one turns "not signed in / bad or expired token" into 401 (Session has none: 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backcare.accounts.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backcare.core.api.exception_handler",
    # Per signed-in user (else per client address), counted in the shared cache (backcare/core/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["backcare.core.throttling.WriteRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("BACKCARE_AUTH_THROTTLE", default="30/min"),
        # Any write (POST, PUT, PATCH, DELETE) by one account: far above a patient's use, far below a flood.
        "write": env.str("BACKCARE_WRITE_THROTTLE", default="120/min"),
        # Offline batches (up to 200 writes each) by one account: a phone back online sends one or two.
        "sync": env.str("BACKCARE_SYNC_THROTTLE", default="10/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("BACKCARE_TOKEN_TTL_DAYS", default=30)),
    "AUTO_REFRESH": True,
    "TOKEN_LIMIT_PER_USER": 20,  # nosec B105  # a count of tokens, not a secret
    "AUTH_HEADER_PREFIX": "Token",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "backcare API",
    "DESCRIPTION": "Guided self-care for an acute lower-back muscle spasm.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Declare the shared error responses (400, 403, 404, 413, 415, 429) and local times of day once.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backcare.core.openapi.add_error_responses",
        "backcare.core.openapi.local_time_format",
    ],
    "ENUM_NAME_OVERRIDES": {
        "EpisodeStatusEnum": "recovery.models.Episode.Status",
        "ReminderStatusEnum": "recovery.models.Reminder.Status",
        "RedFlagLevelEnum": "content.models.RedFlagLevel",
        "ApplicationKindEnum": "recovery.models.ApplicationKind",
        "ActivityKindEnum": "recovery.models.Activity.Kind",
        "CareLinkStatusEnum": "recovery.models.CareLink.Status",
        "LibraryItemKindEnum": "content.models.ItemKind",
        "LibraryPhaseEnum": "content.api.serializers.PHASE_CHOICES",
        "TrendEnum": "recovery.outcomes.engine.trend.TRENDS",
    },
}

# The proxies in front of the app whose X-Forwarded-For entries are believed: a count ("1" behind one TLS
# proxy) or addresses/networks ("127.0.0.1,10.1.0.0/16"); unset, none (backcare/core/net.py). Sign-in
# delays, throttles and the access log all take the client address from there.
BACKCARE_TRUSTED_PROXIES = env.str("BACKCARE_TRUSTED_PROXIES", default="")

# Failed sign-ins: progressive delay per account and per address, or per known device (backcare/accounts/signin_guard.py).
BACKCARE_SIGNIN_FREE_FAILURES_PER_ACCOUNT = env.int("BACKCARE_SIGNIN_FREE_FAILURES_PER_ACCOUNT", default=10)
BACKCARE_SIGNIN_FREE_FAILURES_PER_ADDRESS = env.int("BACKCARE_SIGNIN_FREE_FAILURES_PER_ADDRESS", default=30)
BACKCARE_SIGNIN_FREE_FAILURES_PER_DEVICE = env.int("BACKCARE_SIGNIN_FREE_FAILURES_PER_DEVICE", default=5)
BACKCARE_SIGNIN_DELAY_CAP = timedelta(seconds=env.int("BACKCARE_SIGNIN_DELAY_CAP_SECONDS", default=900))

# Security headers (backcare/core/middleware.py SecurityHeadersMiddleware); the test in
# tests/backcare/core/test_security_headers.py checks them on every HTML page.
_CSP_COMMON = {
    "default-src": "'self'",
    "script-src": "'self'",
    "connect-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "manifest-src": "'self'",
    "worker-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
BACKCARE_CSP = "; ".join(f"{k} {v}" for k, v in {**_CSP_COMMON, "style-src": "'self'"}.items())
# The API docs: Swagger UI and Redoc inline their styles, use data: images and a blob: worker (search).
BACKCARE_CSP_DOCS = "; ".join(
    f"{k} {v}"
    for k, v in {
        **_CSP_COMMON,
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "worker-src": "'self' blob:",
    }.items()
)
BACKCARE_CSP_DOCS_PATHS = ["/api/docs/", "/api/redoc/"]
# Powerful features the app never uses, refused for it and anything it might embed. (Notifications and
# push are not governed by Permissions-Policy.)
BACKCARE_PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "xr-spatial-tracking",
    )
)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport (no server).
REDIS_URL = env.str("REDIS_URL", default="")
# The cache holds throttle and sign-in counters, so it must be shared by every process: Redis when
# REDIS_URL is set; otherwise (`make run`, one web process) memory.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "backcare"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    _broker_dir = VAR_DIR / "broker"
    # kombu lists these folders on connect and fails if they are missing (fresh clone).
    for _folder in ("queue", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    # An explicit host keeps kombu from warning "No hostname was supplied" on every connect.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# The dispatcher has a queue (and a worker process) of its own: a backlog of sends must not hold up
# the claims of the next second, nor let beat's one-second dispatch messages expire unrun.
CELERY_TASK_ROUTES = {"recovery.tasks.dispatch_due": {"queue": "dispatch"}}
# On a broker connection loss, running tasks are given up (Celery 6's default): a send task's claims
# expire and the next dispatch takes its deliveries again.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # The reminder outbox's dispatcher. A run that waited a second in the queue is already stale:
    # the next one claims the same rows, so expiring it loses nothing.
    "reminders-dispatch-due": {
        "task": "recovery.tasks.dispatch_due",
        "schedule": 1.0,
        "options": {"expires": 1},
    },
    "reminders-replan-open-episodes": {
        "task": "recovery.tasks.reminders_replan_open_episodes",
        "schedule": 900.0,
        "options": {"expires": 900},
    },
    "triage-summaries-refresh": {
        "task": "recovery.tasks.triage_summaries_refresh",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "applications-close-overdue": {
        "task": "recovery.tasks.applications_close_overdue",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "expired-tokens-purge": {
        "task": "backcare.accounts.tasks.expired_tokens_purge",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    "beat-heartbeat": {
        "task": "backcare.core.tasks.beat_heartbeat",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# How long a dispatcher's claim on a delivery lasts: a dead worker's deliveries are sent again after it.
BACKCARE_DISPATCH_CLAIM_TTL = timedelta(seconds=env.int("BACKCARE_DISPATCH_CLAIM_TTL", default=120))

# How old the last beat heartbeat may be before /healthz reports 503.
BACKCARE_HEARTBEAT_MAX_AGE = timedelta(seconds=env.int("BACKCARE_HEARTBEAT_MAX_AGE", default=60))
# How long a due reminder may wait unclaimed before /healthz reports 503.
BACKCARE_REMINDER_LAG_MAX = timedelta(seconds=env.int("BACKCARE_REMINDER_LAG_MAX", default=60))

# Push notifications: WebPush with VAPID (RFC 8292) for the web app; FCM and APNs device rows for wrapped apps.
# BACKCARE_VAPID_PRIVATE_KEY: EC P-256, PEM or base64url raw scalar. Optional here (push is then not
# configured); required in production; local settings read var/vapid_private.pem (`make run` creates it);
# test settings make an ephemeral one. BACKCARE_VAPID_PUBLIC_KEY is derived (if set, it must match).
BACKCARE_VAPID_SUBJECT = env.str("BACKCARE_VAPID_SUBJECT", default=DEFAULT_SUBJECT)
_push = push_settings(
    private_key=env.str("BACKCARE_VAPID_PRIVATE_KEY", default=""),
    public_key=env.str("BACKCARE_VAPID_PUBLIC_KEY", default=""),
    subject=BACKCARE_VAPID_SUBJECT,
    required=False,
)
BACKCARE_VAPID_PRIVATE_KEY = _push.private_key
BACKCARE_VAPID_PUBLIC_KEY = _push.public_key
PUSH_NOTIFICATIONS_SETTINGS = _push.library
# Extra CA certificate(s) the sender trusts for push endpoints (the loopback receiver in tests and benches);
# unset: the system CAs only.
BACKCARE_PUSH_CA_BUNDLE = env.str("BACKCARE_PUSH_CA_BUNDLE", default="") or None
if BACKCARE_PUSH_CA_BUNDLE and not Path(BACKCARE_PUSH_CA_BUNDLE).is_file():
    raise ImproperlyConfigured(f"BACKCARE_PUSH_CA_BUNDLE={BACKCARE_PUSH_CA_BUNDLE!r} is not a file")
# Hosts a WebPush endpoint may point at (".example.com" = any subdomain). The server POSTs to registered
# endpoints, so an open list would let any patient aim it at internal addresses (SSRF).
PUSH_SERVICE_HOSTS = [
    "fcm.googleapis.com",  # Chrome, Opera, Samsung Internet, Brave
    "updates.push.services.mozilla.com",  # Firefox
    ".notify.windows.com",  # Edge (WNS)
    ".push.apple.com",  # Safari
]
BACKCARE_PUSH_ENDPOINT_HOSTS = env.list("BACKCARE_PUSH_ENDPOINT_HOSTS", default=PUSH_SERVICE_HOSTS)
# Endpoints are parsed and checked by backcare/push/endpoints.py: https, port 443, a host name (no IP literal),
# and at connect time only public addresses. Loopback (the test receiver on 127.0.0.1, any port) only when
# this is on: tests, benches and a developer's machine, never production.
BACKCARE_PUSH_ALLOW_LOOPBACK = env_bool("BACKCARE_PUSH_ALLOW_LOOPBACK", False)
# The total time one push may take (connect + TLS + send + answer), in seconds; one that misses it is
# retried later like a 5xx.
BACKCARE_PUSH_DEADLINE = env.float("BACKCARE_PUSH_DEADLINE", default=10.0)
# Keep it well inside BACKCARE_DISPATCH_CLAIM_TTL: an answer that comes after its claim expired is only logged.
if BACKCARE_PUSH_DEADLINE <= 0:
    raise ImproperlyConfigured("BACKCARE_PUSH_DEADLINE must be a positive number of seconds")
# Devices one account may register; beyond it the oldest inactive ones are dropped, then 409.
BACKCARE_MAX_DEVICES_PER_USER = env.int("BACKCARE_MAX_DEVICES_PER_USER", default=20)
# Wrapped apps (backcare/push/fcm.py, apns.py). Each transport is on when its credentials are set, off (devices
# of its kind refused at registration) otherwise. Credentials and keys: the text itself or a path to the file.
BACKCARE_FCM_CREDENTIALS = env.str("BACKCARE_FCM_CREDENTIALS", default="")  # service-account JSON
BACKCARE_FCM_PROJECT_ID = env.str("BACKCARE_FCM_PROJECT_ID", default="")  # default: the JSON's project_id
BACKCARE_FCM_SEND_URL = env.str(
    "BACKCARE_FCM_SEND_URL", default="https://fcm.googleapis.com/v1/projects/{project_id}/messages:send"
)
BACKCARE_FCM_TOKEN_URL = env.str("BACKCARE_FCM_TOKEN_URL", default="")  # default: the JSON's token_uri
BACKCARE_APNS_KEY = env.str("BACKCARE_APNS_KEY", default="")  # the .p8 (PEM) signing key
BACKCARE_APNS_KEY_ID = env.str("BACKCARE_APNS_KEY_ID", default="")
BACKCARE_APNS_TEAM_ID = env.str("BACKCARE_APNS_TEAM_ID", default="")
BACKCARE_APNS_TOPIC = env.str("BACKCARE_APNS_TOPIC", default="")  # the app's bundle id
BACKCARE_APNS_SANDBOX = env_bool("BACKCARE_APNS_SANDBOX", False)
BACKCARE_APNS_HOST = env.str("BACKCARE_APNS_HOST", default="")  # host[:port]; default Apple's for the environment
# After a push service refuses our credentials: alert once, then send nothing of that kind for this long.
BACKCARE_PUSH_CREDENTIAL_COOLOFF = env.float("BACKCARE_PUSH_CREDENTIAL_COOLOFF", default=600.0)
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["push_test"] = env.str("BACKCARE_PUSH_TEST_THROTTLE", default="6/min")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("BACKCARE_LOG_LEVEL", default="INFO")},
    # httpx (the APNs client) logs every request at INFO: one line per push is noise, not news.
    "loggers": {"httpx": {"level": "WARNING"}},
}

# Care invitations: redemption attempts allowed per patient, and per code (from anyone), in a sliding window.
BACKCARE_INVITE_ATTEMPTS_PER_USER = env.int("BACKCARE_INVITE_ATTEMPTS_PER_USER", default=10)
BACKCARE_INVITE_ATTEMPTS_PER_CODE = env.int("BACKCARE_INVITE_ATTEMPTS_PER_CODE", default=5)
BACKCARE_INVITE_ATTEMPT_WINDOW_MINUTES = env.int("BACKCARE_INVITE_ATTEMPT_WINDOW_MINUTES", default=15)

# `manage.py seed_demo` creates accounts with a published password: only local and test settings allow it.
BACKCARE_SEED_DEMO_ALLOWED = False

# Licensed questionnaires (issue 17): a directory holding <code>.json wording files (STarT Back, Oswestry) that
# a deployment holding the licence provides. Unset: only the questionnaires whose wording ships in the repository
# (the PEG) are offered.
BACKCARE_QUESTIONNAIRE_LICENSED_DIR = env.str("BACKCARE_QUESTIONNAIRE_LICENSED_DIR", default="") or None
