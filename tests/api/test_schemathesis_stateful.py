"""Stateful property-based test: sequences of linked API calls, as patient A and as A's physiotherapist,
while patient B's data sits in the same database. Nobody may read or change what is not theirs.

Schemathesis infers the links between operations from the schema (a response's ``id`` feeds the
``{episode_id}`` of the next call, and so on: about 140 transitions) and chains calls into scenarios
(``schema.as_state_machine()``). Ids in paths, queries and bodies are also pointed, a third of the time
each, at A's own rows and at B's rows (``_pick``), so every detail, write and action operation is tried
against the other patient's objects, not only at random ids that are nobody's.

Checks on every step: those of the stateless run (tests/api/test_schemathesis.py: no 5xx ever, answers
the schema declares, bad input refused with a 4xx, auth not ignored), and

- ``nobody_elses_data``: a 2xx answer whose body contains any of B's identifiers (episode, check-in,
  application, rest, medication, walk and care-link ids, B's e-mail, display name, notes and user id,
  all seeded with distinctive values), or any step after which B's rows differ (a fingerprint of every row that points at B,
  directly or through one more foreign key, taken before and after each call).

The physiotherapist's run (``/api/physio/`` operations) is linked to A only; B was once linked to the same
physiotherapist and revoked the link, so that run also proves a revoked link shows nothing.

Bounded: ``max_examples`` scenarios of at most ``stateful_step_count`` steps each, ``derandomize`` so each
run sends the same requests; each scenario runs in a savepoint rolled back at its end, so every scenario
starts from the same rows and a failure replays and shrinks. Both runs together take about 60 s here.
Excluded from the patient's run: logout and account deletion (they end the caller's session or account,
which ends the scenario, and are tested on their own), register and login (they act as nobody), and the
test push (it sends).
"""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import schemathesis
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.db.models import Q
from hypothesis import HealthCheck, settings
from knox.models import AuthToken

from recovery.care.models import CareLink
from recovery.episodes.models import CheckIn
from recovery.treatment.models import Activity, Application, MedicationIntake, RestPeriod
from tests.api.test_schemathesis import CHECKS as STATELESS_CHECKS
from tests.factories import CheckInFactory, EpisodeFactory, PhysioFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN_A = "a11c" * 16
TOKEN_PHYSIO = "f15a" * 16

A_ID, B_ID = 700_001, 987_654_321
A_EPISODE = uuid.UUID("0a0a0a0a-1111-4a4a-8a4a-0a0a0a0a0001")
A_CHECKIN = uuid.UUID("0a0a0a0a-2222-4a4a-8a4a-0a0a0a0a0002")
A_APPLICATION = uuid.UUID("0a0a0a0a-3333-4a4a-8a4a-0a0a0a0a0003")
B_EPISODE = uuid.UUID("b0b0b0b0-1111-4b4b-8b4b-b0b0b0b00001")
B_CHECKIN = uuid.UUID("b0b0b0b0-2222-4b4b-8b4b-b0b0b0b00002")
B_APPLICATION = uuid.UUID("b0b0b0b0-3333-4b4b-8b4b-b0b0b0b00003")
A_REST = uuid.UUID("0a0a0a0a-4444-4a4a-8a4a-0a0a0a0a0004")
A_MEDICATION = uuid.UUID("0a0a0a0a-5555-4a4a-8a4a-0a0a0a0a0005")
A_ACTIVITY = uuid.UUID("0a0a0a0a-6666-4a4a-8a4a-0a0a0a0a0006")
A_LINK = uuid.UUID("0a0a0a0a-7777-4a4a-8a4a-0a0a0a0a0007")
B_REST = uuid.UUID("b0b0b0b0-4444-4b4b-8b4b-b0b0b0b00004")
B_MEDICATION = uuid.UUID("b0b0b0b0-5555-4b4b-8b4b-b0b0b0b00005")
B_ACTIVITY = uuid.UUID("b0b0b0b0-6666-4b4b-8b4b-b0b0b0b00006")
B_LINK = uuid.UUID("b0b0b0b0-7777-4b4b-8b4b-b0b0b0b00007")
B_NOTE = "zzqx-bertha-note"
B_EMAIL = "bertha.zzqx-only-b@example.test"
B_NAME = "Berthazzqx"

# Path parameter -> (A's value, B's value). B's application is addressed by its client id in the API.
PATH_IDS = {
    "episode_id": (A_EPISODE, B_EPISODE),
    "checkin_id": (A_CHECKIN, B_CHECKIN),
    "application_id": (A_APPLICATION, B_APPLICATION),
    "rest_id": (A_REST, B_REST),
    "medication_id": (A_MEDICATION, B_MEDICATION),
    "activity_id": (A_ACTIVITY, B_ACTIVITY),
    "link_id": (A_LINK, B_LINK),
    "patient_id": (A_ID, B_ID),
}
EPISODE_FIELDS = ("episode",)
INSTANT_FIELDS = ("onset", "occurred_at", "resolved_at", "started_at", "stopped_at", "taken_at")

# Filled by the fixtures; read by the check (schemathesis calls it with no test context).
WORLD: dict = {}


def _pick(value, own, other):
    """A third of the well-formed ids become the caller's own, a third B's, the rest stay random."""
    if isinstance(value, bool):
        return value
    try:
        number = value if isinstance(value, int) else uuid.UUID(str(value)).int
    except ValueError:
        return value  # deliberately malformed (negative testing): keep it
    choice = number % 3
    if choice == 0:
        return str(own) if isinstance(own, uuid.UUID) else own
    if choice == 1:
        return str(other) if isinstance(other, uuid.UUID) else other
    return value


def _map_path(path_parameters):
    if not path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    for name, (own, other) in PATH_IDS.items():
        if name in mapped:
            mapped[name] = _pick(mapped[name], own, other)
    return mapped


def _map_fields(data):
    if not isinstance(data, dict):
        return data
    moved = dict(data)
    for name in EPISODE_FIELDS:
        if name in moved:
            moved[name] = _pick(moved[name], A_EPISODE, B_EPISODE)
    for name in INSTANT_FIELDS:
        try:
            instant = datetime.fromisoformat(moved.get(name))
        except (TypeError, ValueError):
            continue
        if instant.tzinfo is not None and instant.second % 2 == 0:
            moved[name] = (NOW - timedelta(minutes=instant.minute + 1)).isoformat()
    return moved


def _owner_lookups(model, user_model) -> list[str]:
    """The lookups by which rows of ``model`` point at a user, directly or through one more foreign key."""
    direct = [f.name for f in model._meta.concrete_fields if f.is_relation and f.related_model is user_model]
    if direct:
        return direct
    through = []
    for field in model._meta.concrete_fields:
        if field.is_relation and field.related_model is not None and field.related_model is not model:
            for inner in field.related_model._meta.concrete_fields:
                if inner.is_relation and inner.related_model is user_model:
                    through.append(f"{field.name}__{inner.name}")
    return through


def fingerprint(user) -> str:
    """A hash of every row that belongs to or points at ``user`` (one hop through another row included)."""
    user_model = get_user_model()
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        if model is user_model:
            rows = model.objects.filter(pk=user.pk)
        else:
            lookups = _owner_lookups(model, user_model)
            if not lookups:
                continue
            query = Q()
            for lookup in lookups:
                query |= Q(**{lookup: user})
            rows = model.objects.filter(query)
        digest.update(model._meta.label.encode())
        for row in rows.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


CLIENT_KEYED = (CheckIn, Application, RestPeriod, MedicationIntake, Activity)


def _client_ids_a_also_uses() -> set[str]:
    """Client ids are unique per patient, not across patients: A may store a record under the id B's has
    (a PUT to /api/activities/<B's id>/ creates A's own walk). Such an id in an answer is A's, not a leak."""
    b_ids = [B_CHECKIN, B_APPLICATION, B_REST, B_MEDICATION, B_ACTIVITY]
    used = set()
    for model in CLIENT_KEYED:
        rows = model.objects.filter(patient=WORLD["a"], client_uuid__in=b_ids)
        used |= {str(value) for value in rows.values_list("client_uuid", flat=True)}
    return used


def nobody_elses_data(ctx, response, case):
    """Fails a 2xx that shows B's identifiers, and any call after which B's rows are not what they were."""
    if 200 <= response.status_code < 300:
        body = response.content.decode("utf-8", "replace").lower()
        shown = [marker for marker in WORLD["b_markers"] - _client_ids_a_also_uses() if marker in body]
        assert not shown, f"{case.method} {case.formatted_path} answered {response.status_code} with B's {shown}"
    after = fingerprint(WORLD["b"])
    changed = after != WORLD["b_fingerprint"]
    WORLD["b_fingerprint"] = after  # report each change once, at the step that made it
    assert not changed, f"{case.method} {case.formatted_path} ({response.status_code}) changed B's rows"


CHECKS = [*STATELESS_CHECKS, nobody_elses_data]
SETTINGS = settings(
    max_examples=30,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _machine(schema):
    base = schema.as_state_machine()

    class Machine(base):
        """Each scenario starts from the fixture's rows: it runs in a savepoint rolled back at its end, so
        Hypothesis can replay and shrink a failing scenario against the same state."""

        def setup(self):
            super().setup()
            self._scenario = transaction.atomic()
            self._scenario.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self._scenario.__exit__(None, None, None)
            super().teardown()

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, recorder=getattr(self, "recorder", None))

    return Machine


def _token_auth(schema, token):
    @schema.auth()
    class FixedToken:
        def get(self, case, context):
            return token

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


def _with_id_hooks(schema):
    @schema.hook
    def map_path_parameters(context, path_parameters):
        return _map_path(path_parameters)

    @schema.hook
    def map_query(context, query):
        return _map_fields(query)

    @schema.hook
    def map_body(context, body):
        return _map_fields(body)

    return schema


patient_schema = _with_id_hooks(
    schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    .exclude(path_regex="^/api/physio/")
    .exclude(path_regex="^/api/auth/(logout|login|register)/$")
    .exclude(method="POST", path="/api/me/delete/")
    .exclude(method="POST", path="/api/devices/test/")
)
_token_auth(patient_schema, TOKEN_A)

physio_schema = _with_id_hooks(
    schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(path_regex="^/api/physio/")
)
_token_auth(physio_schema, TOKEN_PHYSIO)
# Schemathesis infers the links between the patient's operations, but not the one from the physiotherapist's
# queue (``results[].patient.id``) to a patient's pages; without it the run never leaves the alerts.
physio_schema.raw_schema["paths"]["/api/physio/patients/"]["get"]["responses"]["200"]["links"] = {
    "OpenPatient": {
        "operationRef": "#/paths/~1api~1physio~1patients~1{patient_id}~1/get",
        "parameters": {"path.patient_id": "$response.body#/results/0/patient/id"},
    }
}


@pytest.fixture
def two_patients_and_a_physio(db):
    """A with an open episode, a check-in, a running ice, a rest, a medication and a walk; B the same, with
    distinctive ids, names and notes; a physiotherapist linked to A, and once to B (revoked)."""
    with time_machine.travel(NOW, tick=True):
        a = UserFactory(id=A_ID, with_profile="Europe/Berlin")
        b = UserFactory(id=B_ID, email=B_EMAIL, display_name=B_NAME, with_profile="Europe/Berlin")
        physio = PhysioFactory()
        for patient, ids, note in (
            (a, (A_EPISODE, A_CHECKIN, A_APPLICATION, A_REST, A_MEDICATION, A_ACTIVITY), "mine"),
            (b, (B_EPISODE, B_CHECKIN, B_APPLICATION, B_REST, B_MEDICATION, B_ACTIVITY), B_NOTE),
        ):
            episode_id, checkin_id, application_id, rest_id, medication_id, activity_id = ids
            episode = EpisodeFactory(id=episode_id, patient=patient, onset=NOW - timedelta(days=2), notes=note)
            CheckInFactory(episode=episode, client_uuid=checkin_id, pain=6, note=note)
            started = NOW - timedelta(minutes=5)
            records = {"patient": patient, "episode": episode}
            Application.objects.create(**records, client_uuid=application_id, kind="ice", started_at=started)
            RestPeriod.objects.create(**records, client_uuid=rest_id, started_at=NOW - timedelta(hours=3))
            MedicationIntake.objects.create(
                **records, client_uuid=medication_id, taken_at=started, med_class="nsaid", name=note, dose_mg=200
            )
            Activity.objects.create(
                **records,
                client_uuid=activity_id,
                started_at=NOW - timedelta(hours=1),
                minutes=10,
                pain_before=6,
                pain_after=5,
            )
        CareLink.objects.create(id=A_LINK, patient=a, physiotherapist=physio, consented_at=NOW - timedelta(days=1))
        # B's own physiotherapist (A's may never reach this link), and a link to A's, revoked.
        CareLink.objects.create(
            id=B_LINK, patient=b, physiotherapist=PhysioFactory(), consented_at=NOW - timedelta(days=1)
        )
        CareLink.objects.create(
            patient=b,
            physiotherapist=physio,
            consented_at=NOW - timedelta(days=1),
            status=CareLink.Status.REVOKED,
            ended_at=NOW - timedelta(hours=1),
        )
        for user, token in ((a, TOKEN_A), (physio, TOKEN_PHYSIO)):
            with mock.patch("knox.crypto.create_token_string", return_value=token):
                AuthToken.objects.create(user=user)
        markers = {B_EMAIL, B_NAME, B_NOTE, str(B_ID)}
        markers |= {str(value) for value in (B_EPISODE, B_CHECKIN, B_APPLICATION, B_REST, B_MEDICATION)}
        markers |= {str(value) for value in (B_ACTIVITY, B_LINK)}
        WORLD.update(a=a, b=b, b_markers={marker.lower() for marker in markers}, b_fingerprint=fingerprint(b))
        # Each request runs inside this test's transaction (see tests/api/test_schemathesis.py).
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            yield a, b, physio
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
            WORLD.clear()


def test_patient_a_never_reads_or_changes_patient_b(two_patients_and_a_physio):
    _machine(patient_schema).run(settings=SETTINGS)


def test_physio_linked_to_a_never_reads_or_changes_patient_b(two_patients_and_a_physio):
    _machine(physio_schema).run(settings=SETTINGS)


def test_the_check_catches_a_leak_and_a_change(two_patients_and_a_physio):
    """The check itself: B's e-mail in a 2xx body fails, so does a change to B's rows; a 404 naming nothing
    passes, and so does a client id of B's that A uses for a record of A's own."""
    a, b, _ = two_patients_and_a_physio
    case = mock.Mock(method="GET", formatted_path="/api/x/")
    nobody_elses_data(None, mock.Mock(status_code=404, content=b'{"detail": "Not found."}'), case)
    with pytest.raises(AssertionError, match="B's"):
        nobody_elses_data(None, mock.Mock(status_code=200, content=f'{{"email": "{B_EMAIL}"}}'.encode()), case)
    # A's own walk stored under the client id of B's: its id in an answer is A's, not B's.
    Activity.objects.create(
        patient=a,
        episode=a.episodes.get(),
        client_uuid=B_ACTIVITY,
        started_at=NOW - timedelta(hours=5),
        minutes=5,
        pain_before=3,
        pain_after=3,
    )
    nobody_elses_data(None, mock.Mock(status_code=201, content=f'{{"id": "{B_ACTIVITY}"}}'.encode()), case)
    b.checkins.update(pain=1)
    with pytest.raises(AssertionError, match="changed B's rows"):
        nobody_elses_data(None, mock.Mock(status_code=404, content=b"{}"), case)
