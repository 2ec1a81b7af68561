"""`make run`: the embedded default (SQLite + filesystem broker unless DATABASE_URL/REDIS_URL)."""

from .base import *  # noqa: F403
from .base import env, env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-development-key-never-use-in-production")
