"""Property-based test of the physiotherapist's endpoints, called as a physiotherapist (see
tests/api/test_schemathesis.py for the method and the checks; that module calls them as a patient).

The caller is linked to one patient (fixed id ``PATIENT_ID``, an open episode ``EPISODE_ID`` with a
check-in). About half the generated patient ids and episode ids are swapped for those, so the timeline,
daily, notes, protocol, reviewed and discharge operations reach their real code paths instead of 404.
"""

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import schemathesis
import time_machine
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from knox.models import AuthToken

from recovery.care.models import CareLink
from tests.api.test_schemathesis import CHECKS
from tests.factories import CheckInFactory, EpisodeFactory, PhysioFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN = "9b1a" * 16
PATIENT_ID = 900_001
EPISODE_ID = uuid.UUID("6a0c3e1f-8d2b-4f5a-9c7e-1b2d3f4a5b06")

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(path_regex="^/api/physio/")


@schema.auth()
class PhysioToken:
    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@schema.hook
def map_path_parameters(context, path_parameters):
    if not path_parameters or "patient_id" not in path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    value = mapped["patient_id"]
    if isinstance(value, int) and not isinstance(value, bool) and value % 2 == 0:
        mapped["patient_id"] = PATIENT_ID
    return mapped


@schema.hook
def map_query(context, query):
    if not isinstance(query, dict):
        return query
    moved = dict(query)
    try:
        if uuid.UUID(str(moved.get("episode"))).int % 2 == 0:
            moved["episode"] = str(EPISODE_ID)
    except ValueError:
        pass
    return moved


@schema.hook
def map_body(context, body):
    if not isinstance(body, dict):
        return body
    moved = dict(body)
    try:
        if uuid.UUID(str(moved.get("episode"))).int % 2 == 0:
            moved["episode"] = str(EPISODE_ID)
    except ValueError:
        pass
    return moved


@pytest.fixture
def physio_with_a_patient(db):
    with time_machine.travel(NOW, tick=True):
        physio = PhysioFactory()
        patient = UserFactory(id=PATIENT_ID, with_profile="Europe/Berlin")
        CareLink.objects.create(patient=patient, physiotherapist=physio, consented_at=timezone.now())
        episode = EpisodeFactory(id=EPISODE_ID, patient=patient, onset=NOW - timedelta(days=3))
        CheckInFactory(episode=episode, pain=6)
        with mock.patch("knox.crypto.create_token_string", return_value=TOKEN):
            AuthToken.objects.create(user=physio)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            yield physio
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
def test_physio_api(case, physio_with_a_patient):
    case.call_and_validate(checks=CHECKS)
