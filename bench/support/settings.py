"""Settings for benchmark servers: the test settings, a dedicated database, production-like connections.

Only two things differ from backcare.settings.test, both so the numbers describe a deployment:
  * the database connection is kept between requests (CONN_MAX_AGE/CONN_HEALTH_CHECKS as in
    backcare.settings.production) instead of a new PostgreSQL connection per request;
  * WhiteNoise does not re-scan the static directories on every request (a test-only convenience).
The urlconf adds the plain-Django baseline views next to the real API.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/backcare_bench")

from backcare.settings.test import *  # noqa: E402, F403
from backcare.settings.test import DATABASES  # noqa: E402

ROOT_URLCONF = "bench.support.urls"
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DJANGO_CONN_MAX_AGE", "60"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
WHITENOISE_AUTOREFRESH = False
