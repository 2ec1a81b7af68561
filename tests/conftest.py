import os

import pytest
from rest_framework.test import APIClient

from backcare.accounts.models import User
from content.services import redflag_rules_load
from recovery.outcomes.services import questionnaire_versions_load
from recovery.treatment.services import protocol_version_load
from tests.factories import PASSWORD, EpisodeFactory, PhysioFactory, UserFactory  # noqa: F401


def pytest_configure(config):
    """BACKCARE_TEST_CLOCK=2026-12-03T00:30:00Z runs the tests with the Python clock started there (ticking), to find
    tests that depend on the time of day (e.g. Berlin's midnight at 23:00 UTC). PostgreSQL's now() and the
    browser's clock are not moved: tests must pass their instants explicitly (or pin them with time-machine)."""
    start = os.environ.get("BACKCARE_TEST_CLOCK")
    if start:
        import time_machine

        config._backcare_clock = time_machine.travel(start, tick=True)
        config._backcare_clock.start()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Transactional tests empty the tables with TRUNCATE; the access log refuses it unless the database
    allows it (backcare/audit/migrations/0003): allow it for the test database only."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                name = connection.ops.quote_name(connection.settings_dict["NAME"])
                cursor.execute(f"ALTER DATABASE {name} SET backcare.allow_truncate = 'on'")
            connection.close()  # the setting applies to connections opened from now on


@pytest.fixture(autouse=True)
def _cache_emptied():
    """Throttle and sign-in counters live in Redis, which outlives a test's transaction: start each test without any
    (only the cache's own keys: Celery's queues share the Redis database)."""
    from django.core.cache import cache

    client = getattr(cache, "_cache", None)
    if client is None or not hasattr(client, "get_client"):
        cache.clear()
        return
    redis = client.get_client(write=True)
    keys = list(redis.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
    if keys:
        redis.delete(*keys)


@pytest.fixture(autouse=True)
def _content_loaded(request):
    """Transactional tests flush the tables, data migrations included: load the checklist again."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        return
    transactional = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    request.getfixturevalue("transactional_db" if transactional else "db")
    redflag_rules_load()
    protocol_version_load()
    questionnaire_versions_load()


@pytest.fixture
def patient(db):
    return UserFactory()


@pytest.fixture
def other_patient(db):
    return UserFactory()


@pytest.fixture
def physio(db):
    return PhysioFactory()


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api():
    return client_for(None)


@pytest.fixture
def patient_api(patient):
    return client_for(patient)


@pytest.fixture
def other_api(other_patient):
    return client_for(other_patient)


@pytest.fixture
def physio_api(physio):
    return client_for(physio)


@pytest.fixture
def episode(patient):
    return EpisodeFactory(patient=patient)
