"""Property-based API test: every operation in /api/schema/ against the app, checked by schemathesis.

One pytest test per operation (``test_api[POST /api/episodes/]`` ...). Schemathesis generates valid and
invalid requests from the schema (examples, coverage and fuzzing phases; fuzzing is bounded by
``max_examples``, and ``derandomize`` makes every run send the same requests) and sends them in-process
through Django's WSGI handler, inside the test's database transaction, with the clock frozen.

Who calls: a patient with a knox token (fixed, ``TOKEN``), an open episode (``EPISODE_ID``) and one
stored check-in (``CHECKIN_ID``). About half the well-formed generated ids are swapped for those two and
about half the instants moved into the episode's window (``map_path_parameters``, ``map_body``), so
detail, daily, resolve, open and check-in reach their real code paths (200/201/409) instead of stopping
at 404 or 400 every time.

Checks run on every response:

- ``not_a_server_error``: no 5xx, ever.
- ``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance``,
  ``response_schema_conformance``: the answer (errors included) is one the schema declares.
- ``negative_data_rejection``: a request that breaks the schema is refused with a 4xx.
- ``missing_required_header``: leaving out a required header is refused.
- ``unsupported_method``, ``allow_header_conformance``: a method an operation does not have answers 405
  with an Allow header that lists the ones it does.
- ``ignored_auth``: authenticated operations refuse a request without, or with a wrong, token.

Excluded, and why:

- ``POST /api/auth/logout/``: it revokes the token every other request authenticates with. Logout is
  covered by the auth tests.
- The ``positive_data_acceptance`` check: the schema cannot express the business rules (a password
  that passes Django's validators, an IANA zone name, an onset no more than 30 days back, one open
  episode at a time, a red-flag code of the current checklist), so schema-valid requests are
  legitimately refused with 400/409. tests/api/test_bad_input.py tests those rules one by one.
- ``use_after_free``, ``ensure_resource_availability``, ``object_level_authorization``: they need
  DELETE operations, links or a second identity; ownership is tested in the security tests.
"""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
import schemathesis
import time_machine
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.factories import CheckInFactory, EpisodeFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN = "5eed" * 16  # knox's 64 hex characters
EPISODE_ID = uuid.UUID("0c6f4b5e-2f7a-4d8e-9a51-3b1f7c2d9e01")
CHECKIN_ID = uuid.UUID("5d2e8a71-94c3-4b0f-8e6a-7f1c2b3d4e02")
KNOWN_IDS = {"episode_id": EPISODE_ID, "checkin_id": CHECKIN_ID}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    ignored_auth,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).exclude(
    method="POST", path="/api/auth/logout/"
)


@schema.auth()
class PatientToken:
    """The token is fixed (see the fixture) because schemathesis applies auth when it builds a case, and
    it builds the coverage phase's cases at collection time, before any fixture runs."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@schema.hook
def map_path_parameters(context, path_parameters):
    """Point about half the well-formed ids at the patient's own episode and check-in."""
    if not path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    for name, known in KNOWN_IDS.items():
        try:
            generated = uuid.UUID(str(mapped.get(name)))
        except ValueError:
            continue  # a deliberately malformed id (negative testing): keep it
        if generated.int % 2 == 0:
            mapped[name] = str(known)
    return mapped


@schema.hook
def map_body(context, body):
    """Point about half the well-formed episode ids and instants at the open episode and its window.

    A random episode id is never the patient's and a random date-time is almost never within the last
    30 days, so without this every episode open, resolve, filed check-in and timed treatment record (ice
    or heat, rest, medication, walk) would stop at the same 400.
    """
    if not isinstance(body, dict):
        return body
    moved = dict(body)
    try:
        if uuid.UUID(str(moved.get("episode"))).int % 2 == 0:
            moved["episode"] = str(EPISODE_ID)
    except ValueError:
        pass
    for name in ("onset", "occurred_at", "resolved_at", "started_at", "stopped_at", "taken_at"):
        value = moved.get(name)
        try:
            instant = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            continue
        if instant.tzinfo is not None and instant.second % 2 == 0:
            zone = timezone(timedelta(hours=instant.minute % 3 - 1))
            moved[name] = (NOW - timedelta(minutes=instant.minute + 1)).astimezone(zone).isoformat()
    return moved


@pytest.fixture
def patient_with_open_episode(db):
    with time_machine.travel(NOW, tick=True):
        user = UserFactory()
        episode = EpisodeFactory(id=EPISODE_ID, patient=user)
        CheckInFactory(episode=episode, client_uuid=CHECKIN_ID, pain=6)
        with mock.patch("knox.crypto.create_token_string", return_value=TOKEN):
            AuthToken.objects.create(user=user)
        # Django closes the connection at the end of every WSGI request; the test client avoids that
        # the same way, so each request runs inside this test's transaction and sees its rows.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            yield user
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api(case, patient_with_open_episode):
    case.call_and_validate(checks=CHECKS)


def test_schema_declares_the_token_on_every_authenticated_operation():
    """ignored_auth and the auth provider rely on it; a custom authentication class without an
    OpenApiAuthenticationExtension silently drops the scheme from the schema."""
    raw = schema.raw_schema
    assert raw["components"]["securitySchemes"]["knoxApiToken"]["name"] == "Authorization"
    for path, operations in raw["paths"].items():
        for method, operation in operations.items():
            if path in ("/api/auth/register/", "/api/auth/login/", "/api/reminders/ack/"):
                assert operation["security"] == [{}], (method, path)
            else:
                assert {"knoxApiToken": []} in operation["security"], (method, path)
