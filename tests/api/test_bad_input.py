"""Bad input on every write endpoint is refused, names what is wrong, and writes nothing.

Write endpoints: register, login, PATCH profile, open episode, resolve episode, PUT check-in, sync, and the
treatment writes (PUT and stop an application or a rest period, PUT a medication intake or a walk).
(Logout takes no input.) Every refusal is checked the same way: the status code, that the JSON body
names the offending field (or ``detail`` / ``non_field_errors`` when no field is to blame), and that
no row was added, changed or removed (``nothing_written``). The clock is frozen at ``NOW``.
"""

import json
import uuid
from contextlib import contextmanager

import pytest
import time_machine
from django.conf import settings
from django.db.models import Q
from knox.models import AuthToken
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

from backcare.accounts.models import Profile, User
from backcare.push.vapid import b64url_encode, generate_private_key, public_key_b64
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.treatment.models import Activity, Application, MedicationIntake, RestPeriod
from tests.factories import PASSWORD, EpisodeFactory

pytestmark = pytest.mark.django_db

NOW = "2026-11-22T10:00:00+00:00"  # the `episode` fixture's onset is two hours earlier: 08:00Z
NEW_CHECKIN = "7c1d4a52-6e0b-4f3a-9d28-5b6e1f0a3c11"
NEW_RECORD = "2b8f0c3e-91d4-4a6b-b7e5-0d9c8a1f4e22"  # a client id for the treatment writes
NEW_DOMAIN = "@bad-input.test"  # every account these tests try to register
UNKNOWN = "Unknown or read-only field."
MISSING = object()  # a field left out of the body


def short_id(value) -> str:
    text = "missing" if value is MISSING else repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...({len(text)} chars)"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _state(user_ids: set[int]) -> dict:
    """The rows a write by these users (or a registration) can touch, with every column a partial write
    would change. Scoped to the test's own users, so rows committed by another test session do not count."""
    users = User.objects.filter(Q(pk__in=user_ids) | Q(email__endswith=NEW_DOMAIN))
    return {
        "users": list(users.order_by("pk").values()),
        "profiles": list(Profile.objects.filter(user__in=users).order_by("pk").values()),
        "tokens": sorted(AuthToken.objects.filter(user__in=users).values_list("digest", flat=True)),
        "episodes": list(Episode.objects.filter(patient__in=users).order_by("pk").values()),
        "checkins": list(CheckIn.objects.filter(patient__in=users).order_by("pk").values()),
        "red_flag_events": list(RedFlagEvent.objects.filter(patient__in=users).order_by("pk").values()),
        **{
            model.__name__: list(model.objects.filter(patient__in=users).order_by("pk").values())
            for model in (Application, RestPeriod, MedicationIntake, Activity)
        },
        **{
            model.__name__: list(model.objects.filter(user__in=users).order_by("pk").values())
            for model in (WebPushDevice, GCMDevice, APNSDevice)
        },
    }


@pytest.fixture
def nothing_written(request):
    """`with nothing_written():` fails if the block adds, changes or removes a row of the test's users."""

    @contextmanager
    def check():
        user_ids = {value.pk for value in request.node.funcargs.values() if isinstance(value, User)}
        before = _state(user_ids)
        yield
        assert _state(user_ids) == before, "a refused request changed the database"

    return check


def send(client, method: str, url: str, body, content_type: str = "application/json"):
    """Send `body` as is when it is a str, otherwise as JSON."""
    data = body if isinstance(body, str) else json.dumps(body)
    return client.generic(method, url, data, content_type=content_type)


def assert_refused(response, status: int, *names: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    for name in names:
        assert name in body, f"{name!r} not named in {body}"
    return body


# --- every write endpoint: malformed, non-object, oversized and form-encoded bodies ------------------

ENDPOINTS = {
    "register": ("anonymous", "POST", "/api/auth/register/"),
    "login": ("anonymous", "POST", "/api/auth/login/"),
    "profile": ("patient", "PATCH", "/api/me/profile/"),
    "open-episode": ("patient", "POST", "/api/episodes/"),
    "resolve-episode": ("patient", "POST", "/api/episodes/{episode}/resolve/"),
    "put-checkin": ("patient", "PUT", f"/api/checkins/{NEW_CHECKIN}/"),
    "sync": ("patient", "POST", "/api/sync/"),
    "put-application": ("patient", "PUT", f"/api/applications/{NEW_RECORD}/"),
    "stop-application": ("patient", "POST", f"/api/applications/{NEW_RECORD}/stop/"),
    "put-rest": ("patient", "PUT", f"/api/rest/{NEW_RECORD}/"),
    "stop-rest": ("patient", "POST", f"/api/rest/{NEW_RECORD}/stop/"),
    "put-medication": ("patient", "PUT", f"/api/medications/{NEW_RECORD}/"),
    "put-activity": ("patient", "PUT", f"/api/activities/{NEW_RECORD}/"),
    "register-device": ("patient", "POST", "/api/devices/"),
    # The body is checked before the device is looked up, so a device that does not exist is fine here.
    "rename-device": ("patient", "PATCH", "/api/devices/webpush:999999999/"),
    "test-push": ("patient", "POST", "/api/devices/test/"),
}


@pytest.fixture(params=list(ENDPOINTS))
def endpoint(request, api, patient_api, episode):
    who, method, url = ENDPOINTS[request.param]
    return (api if who == "anonymous" else patient_api), method, url.format(episode=episode.id)


@pytest.mark.parametrize(
    "raw",
    ['{"pain": 5,', "{'pain': 5}", '{"pain": 5} trailing', "nul\x00", '{"pain": NaN}', '{"pain": Infinity}', "{"],
    ids=repr,
)
def test_malformed_json_is_400(endpoint, raw, nothing_written):
    client, method, url = endpoint
    with nothing_written():
        body = assert_refused(send(client, method, url, raw), 400, "detail")
    assert "JSON parse error" in body["detail"]


@pytest.mark.parametrize("raw", ["[]", '[{"pain": 5}]', '"pain"', '""', "5", "true", "false", "null"], ids=repr)
def test_json_that_is_not_an_object_is_400(endpoint, raw, nothing_written):
    """Falsy bodies ([] or "") included: resolve used to take them for "no body" and resolve the episode."""
    client, method, url = endpoint
    with nothing_written():
        assert_refused(send(client, method, url, raw), 400, "non_field_errors")


def test_oversized_body_is_413(endpoint, nothing_written):
    client, method, url = endpoint
    raw = json.dumps({"note": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    with nothing_written():
        body = assert_refused(send(client, method, url, raw), 413, "detail")
    assert "too large" in body["detail"]


@pytest.mark.parametrize(
    "content_type, raw",
    [
        ("application/x-www-form-urlencoded", "pain=5&onset=2026-11-22T09%3A00%3A00Z&email=a%40b.test"),
        (
            "multipart/form-data; boundary=xyz",
            '--xyz\r\nContent-Disposition: form-data; name="pain"\r\n\r\n5\r\n--xyz--\r\n',
        ),
        ("text/plain", '{"pain": 5}'),
    ],
    ids=["form-urlencoded", "multipart", "text-plain"],
)
def test_a_body_that_is_not_json_is_415(endpoint, content_type, raw, nothing_written):
    client, method, url = endpoint
    with nothing_written():
        body = assert_refused(send(client, method, url, raw, content_type=content_type), 415, "detail")
    assert "Unsupported media type" in body["detail"]


# --- register ------------------------------------------------------------------------------------------

REGISTRATION = {"email": f"new.patient{NEW_DOMAIN}", "password": "an-Unusual-passphrase-42", "timezone": "UTC"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"email": MISSING}, "email"),
        ({"email": None}, "email"),
        ({"email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 5}, "email"),
        ({"email": [REGISTRATION["email"]]}, "email"),
        ({"password": MISSING}, "password"),
        ({"password": None}, "password"),
        ({"password": ""}, "password"),
        ({"password": 12345678901234}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"display_name": 5}, "display_name"),
        ({"display_name": True}, "display_name"),
        ({"display_name": "x" * 81}, "display_name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "europe/berlin"}, "timezone"),
        ({"timezone": "UTC+02:00"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"timezone": 2}, "timezone"),
        ({"timezone": "x" * 65}, "timezone"),
    ],
    ids=short_id,
)
def test_register_bad_field(api, change, field, nothing_written):
    body = {key: value for key, value in {**REGISTRATION, **change}.items() if value is not MISSING}
    with nothing_written():
        assert_refused(send(api, "POST", "/api/auth/register/", body), 400, field)


@pytest.mark.parametrize(
    "smuggled",
    [
        {"role": "physiotherapist"},
        {"is_staff": True},
        {"is_superuser": True},
        {"is_active": False},
        {"id": 1},
        {"date_joined": "2020-01-01T00:00:00Z"},
        {"owner": 1},
        {"patient": 1},
        {"status": "active"},
    ],
    ids=lambda d: next(iter(d)),
)
def test_register_mass_assignment_is_refused(api, smuggled, nothing_written):
    with nothing_written():
        body = assert_refused(send(api, "POST", "/api/auth/register/", {**REGISTRATION, **smuggled}), 400, *smuggled)
    assert body[next(iter(smuggled))] == [UNKNOWN]


# --- login ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "{email}"}, "password"),
        ({"email": 5, "password": PASSWORD}, "email"),
        ({"email": "{email}", "password": 5}, "password"),
        ({"email": "{email}", "password": PASSWORD, "role": "physiotherapist"}, "role"),
        ({"email": "{email}", "password": PASSWORD, "user": 1}, "user"),
        ({"email": "{email}", "password": PASSWORD, "expiry": None}, "expiry"),
    ],
    ids=short_id,
)
def test_login_bad_input_issues_no_token(api, patient, body, field, nothing_written):
    body = {k: v.format(email=patient.email) if isinstance(v, str) else v for k, v in body.items()}
    with nothing_written():
        assert_refused(send(api, "POST", "/api/auth/login/", body), 400, field)
    assert "sessionid" not in api.cookies


# --- profile -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Europe/berlin"}, "timezone"),
        ({"timezone": "+01:00"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"timezone": 1}, "timezone"),
        ({"timezone": ["Europe/Berlin"]}, "timezone"),
        ({"timezone": "Europe/Berlin", "desk_worker": "yes"}, "desk_worker"),  # nothing of it is stored
        ({"desk_worker": "true"}, "desk_worker"),
        ({"desk_worker": 1}, "desk_worker"),
        ({"desk_worker": None}, "desk_worker"),
        ({"notify_checkin": "false"}, "notify_checkin"),
        ({"notify_movement": 0}, "notify_movement"),
        ({"notify_treatment": None}, "notify_treatment"),
        ({"sleep_start": "25:00"}, "sleep_start"),
        ({"sleep_start": "late"}, "sleep_start"),
        ({"sleep_start": 23}, "sleep_start"),
        ({"sleep_end": None}, "sleep_end"),
        ({"sleep_start": "23:00", "sleep_end": "00:30"}, "sleep_end"),  # 1.5 hours
        ({"sleep_start": "07:00", "sleep_end": "22:00"}, "sleep_end"),  # 15 hours
    ],
    ids=short_id,
)
def test_profile_bad_field(patient_api, change, field, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "PATCH", "/api/me/profile/", change), 400, field)


@pytest.mark.parametrize(
    "smuggled",
    [{"user": 2}, {"id": 1}, {"role": "physiotherapist"}, {"email": "x@example.test"}, {"updated_at": NOW}],
    ids=lambda d: next(iter(d)),
)
def test_profile_mass_assignment_is_refused(patient_api, smuggled, nothing_written):
    with nothing_written():
        body = assert_refused(
            send(patient_api, "PATCH", "/api/me/profile/", {"desk_worker": True, **smuggled}), 400, *smuggled
        )
    assert body[next(iter(smuggled))] == [UNKNOWN]


# --- open an episode -----------------------------------------------------------------------------------

ONSET = "2026-11-22T08:00:00+01:00"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "onset"),
        ({"trigger": "lifting"}, "onset"),
        ({"onset": None}, "onset"),
        ({"onset": "2026-11-22T08:00:00"}, "onset"),  # naive
        ({"onset": "2026-11-22T08:00"}, "onset"),  # naive
        ({"onset": "2026-11-22"}, "onset"),  # a day is not an instant
        ({"onset": "yesterday"}, "onset"),
        ({"onset": 1795341600}, "onset"),
        ({"onset": "2026-11-22T10:05:01Z"}, "onset"),  # more than 5 minutes ahead
        ({"onset": "2026-11-22T11:05:01+01:00"}, "onset"),  # the same, with an offset
        ({"onset": "2026-10-23T09:59:59Z"}, "onset"),  # more than 30 days back
        ({"onset": "0001-01-01T00:00:00+01:00"}, "onset"),  # not representable in UTC
        ({"onset": ONSET, "trigger": "volcano"}, "trigger"),
        ({"onset": ONSET, "trigger": 5}, "trigger"),
        ({"onset": ONSET, "trigger": None}, "trigger"),
        ({"onset": ONSET, "notes": 5}, "notes"),
        ({"onset": ONSET, "notes": "x" * 2001}, "notes"),
        ({"onset": ONSET, "client_uuid": "abc"}, "client_uuid"),
        ({"onset": ONSET, "client_uuid": 0}, "client_uuid"),  # DRF would read 0 as UUID(int=0)
        ({"onset": ONSET, "client_uuid": True}, "client_uuid"),
    ],
    ids=short_id,
)
def test_open_episode_bad_field(patient_api, body, field, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "POST", "/api/episodes/", body), 400, field)


@pytest.mark.parametrize("onset", ["2026-11-22T10:05:00Z", "2026-10-23T10:00:00Z", "2026-10-23T11:00:00+01:00"])
def test_open_episode_onset_window_is_inclusive(patient_api, onset):
    response = send(patient_api, "POST", "/api/episodes/", {"onset": onset})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "smuggled",
    [
        {"status": "resolved"},
        {"resolved_at": NOW},
        {"patient": 1},
        {"owner": 1},
        {"user": 1},
        {"id": "0c6f4b5e-2f7a-4d8e-9a51-3b1f7c2d9e01"},
        {"created_at": NOW},
    ],
    ids=lambda d: next(iter(d)),
)
def test_open_episode_mass_assignment_is_refused(patient_api, smuggled, nothing_written):
    with nothing_written():
        body = assert_refused(send(patient_api, "POST", "/api/episodes/", {"onset": ONSET, **smuggled}), 400, *smuggled)
    assert body[next(iter(smuggled))] == [UNKNOWN]


# --- resolve an episode --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"resolved_at": "2026-11-22T09:00:00"}, "resolved_at"),  # naive
        ({"resolved_at": "2026-11-22T07:59:59Z"}, "resolved_at"),  # before the onset
        ({"resolved_at": "2026-11-22T08:30:00+01:00"}, "resolved_at"),  # 07:30Z: before the onset
        ({"resolved_at": "2026-11-22T10:05:01Z"}, "resolved_at"),  # in the future
        ({"resolved_at": "soon"}, "resolved_at"),
        ({"resolved_at": 1795341600}, "resolved_at"),
        ({"resolved_at": True}, "resolved_at"),
    ],
    ids=short_id,
)
def test_resolve_bad_field_leaves_the_episode_open(patient_api, episode, body, field, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "POST", f"/api/episodes/{episode.id}/resolve/", body), 400, field)
    episode.refresh_from_db()
    assert (episode.status, episode.resolved_at) == (Episode.Status.OPEN, None)


@pytest.mark.parametrize(
    "smuggled",
    [{"status": "resolved"}, {"onset": NOW}, {"patient": 1}, {"id": NEW_CHECKIN}, {"trigger": "sport"}],
    ids=lambda d: next(iter(d)),
)
def test_resolve_mass_assignment_is_refused(patient_api, episode, smuggled, nothing_written):
    url = f"/api/episodes/{episode.id}/resolve/"
    with nothing_written():
        body = assert_refused(send(patient_api, "POST", url, smuggled), 400, *smuggled)
    assert body[next(iter(smuggled))] == [UNKNOWN]


@pytest.mark.parametrize("body", [{}, {"resolved_at": None}, {"resolved_at": "2026-11-22T08:00:00Z"}], ids=repr)
def test_resolve_without_a_time_or_at_the_onset_is_accepted(patient_api, episode, body):
    response = send(patient_api, "POST", f"/api/episodes/{episode.id}/resolve/", body)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"


def test_resolve_without_a_body_is_accepted(patient_api, episode):
    response = patient_api.post(f"/api/episodes/{episode.id}/resolve/")
    assert response.status_code == 200, response.content
    assert response.json()["resolved_at"] == "2026-11-22T10:00:00Z"


# --- put a check-in ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"pain": -1}, "pain"),
        ({"pain": 11}, "pain"),
        ({"pain": 7.5}, "pain"),
        ({"pain": 7.0}, "pain"),
        ({"pain": "7"}, "pain"),
        ({"pain": True}, "pain"),
        ({"pain": None}, "pain"),
        ({"pain": [7]}, "pain"),
        ({}, "pain"),
        ({"note": "no pain given"}, "pain"),
        ({"pain": 5, "stiffness": 11}, "stiffness"),
        ({"pain": 5, "stiffness": -1}, "stiffness"),
        ({"pain": 5, "stiffness": "3"}, "stiffness"),
        ({"pain": 5, "water_glasses": 41}, "water_glasses"),
        ({"pain": 5, "water_glasses": 2.5}, "water_glasses"),
        ({"pain": 5, "spasm_frequency": "sometimes"}, "spasm_frequency"),
        ({"pain": 5, "spasm_frequency": None}, "spasm_frequency"),
        ({"pain": 5, "sleep_quality": "great"}, "sleep_quality"),
        ({"pain": 5, "sleep_quality": 1}, "sleep_quality"),
        ({"pain": 5, "note": 5}, "note"),
        ({"pain": 5, "note": "x" * 1001}, "note"),
        ({"pain": 5, "episode": "not-a-uuid"}, "episode"),
        ({"pain": 5, "episode": 0}, "episode"),  # DRF would read 0 as UUID(int=0)
        ({"pain": 5, "episode": True}, "episode"),
        ({"pain": 5, "episode": "9b2f3c1e-0000-4000-8000-000000000000"}, "episode"),  # no such episode
        ({"pain": 5, "occurred_at": "2026-11-22T09:30:00"}, "occurred_at"),  # naive
        ({"pain": 5, "occurred_at": "2026-11-22"}, "occurred_at"),
        ({"pain": 5, "occurred_at": 1795339800}, "occurred_at"),
        ({"pain": 5, "occurred_at": "2026-11-22T10:05:01Z"}, "occurred_at"),  # in the future
        ({"pain": 5, "occurred_at": "2026-11-22T07:54:59Z"}, "occurred_at"),  # before the onset
        ({"pain": 5, "red_flags": {"made_up_code": False}}, "red_flags"),
        ({"pain": 5, "red_flags": {"saddle_numbness": True, "made_up_code": True}}, "red_flags"),
        ({"pain": 5, "red_flags": {"saddle_numbness": "yes"}}, "red_flags"),
        ({"pain": 5, "red_flags": {"saddle_numbness": 1}}, "red_flags"),
        ({"pain": 5, "red_flags": {"saddle_numbness": None}}, "red_flags"),
        ({"pain": 5, "red_flags": ["saddle_numbness"]}, "red_flags"),
        ({"pain": 5, "red_flags": "saddle_numbness"}, "red_flags"),
        ({"pain": 5, "red_flags": None}, "red_flags"),
    ],
    ids=short_id,
)
def test_checkin_bad_field(patient_api, episode, body, field, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "PUT", f"/api/checkins/{NEW_CHECKIN}/", body), 400, field)


def test_checkin_red_flag_errors_name_the_item(patient_api, episode, nothing_written):
    body = {"pain": 5, "red_flags": {"saddle_numbness": True, "made_up_code": True, "fever": "no"}}
    with nothing_written():
        errors = assert_refused(send(patient_api, "PUT", f"/api/checkins/{NEW_CHECKIN}/", body), 400, "red_flags")
    assert "fever" in errors["red_flags"]
    body["red_flags"]["fever"] = False
    with nothing_written():
        errors = assert_refused(send(patient_api, "PUT", f"/api/checkins/{NEW_CHECKIN}/", body), 400, "red_flags")
    assert set(errors["red_flags"]) == {"made_up_code"}


def test_checkin_into_another_patients_episode_is_refused(patient_api, episode, other_patient, nothing_written):
    theirs = EpisodeFactory(patient=other_patient)
    with nothing_written():
        assert_refused(
            send(patient_api, "PUT", f"/api/checkins/{NEW_CHECKIN}/", {"pain": 5, "episode": str(theirs.id)}),
            400,
            "episode",
        )


def test_checkin_without_an_open_episode_is_refused(patient_api, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "PUT", f"/api/checkins/{NEW_CHECKIN}/", {"pain": 5}), 400, "episode")


@pytest.mark.parametrize(
    "smuggled",
    [
        {"patient": 1},
        {"owner": 1},
        {"user": 1},
        {"id": "0c6f4b5e-2f7a-4d8e-9a51-3b1f7c2d9e01"},
        {"client_uuid": "0c6f4b5e-2f7a-4d8e-9a51-3b1f7c2d9e01"},
        {"recorded_at": NOW},
        {"payload_hash": "x"},
        {"escalation": None},
        {"redflag_ruleset": 1},
        {"status": "resolved"},
        {"role": "physiotherapist"},
    ],
    ids=lambda d: next(iter(d)),
)
def test_checkin_mass_assignment_is_refused(patient_api, episode, smuggled, nothing_written):
    with nothing_written():
        body = assert_refused(
            send(patient_api, "PUT", f"/api/checkins/{NEW_CHECKIN}/", {"pain": 5, **smuggled}), 400, *smuggled
        )
    assert body[next(iter(smuggled))] == [UNKNOWN]


def test_checkin_path_id_that_is_not_a_uuid_is_a_json_404(patient_api, episode, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "PUT", "/api/checkins/not-a-uuid/", {"pain": 5}), 404, "detail")


# --- sync ----------------------------------------------------------------------------------------------


def _item(pain=5, **data):
    return {"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": pain, **data}}


def test_sync_stores_good_items_and_refuses_bad_ones_one_by_one(patient_api, patient, episode):
    good_first, good_last = _item(pain=3), _item(pain=4, red_flags={"saddle_numbness": True})
    batch = [
        good_first,
        _item(pain=11),
        _item(pain="7"),
        {"kind": "episode", "id": str(uuid.uuid4()), "data": {"pain": 5}},
        {"kind": "checkin", "id": "not-a-uuid", "data": {"pain": 5}},
        {"kind": "checkin", "id": 0, "data": {"pain": 5}},
        {"kind": "checkin", "data": {"pain": 5}},
        {"kind": "checkin", "id": str(uuid.uuid4()), "data": "pain=5"},
        {**_item(), "owner": 1},
        _item(patient=1),
        _item(occurred_at="2026-11-22T09:00:00"),
        _item(red_flags={"made_up_code": True, "saddle_numbness": True}),
        _item(red_flags={"saddle_numbness": "yes"}),
        good_last,
    ]
    expected = [
        (201, None),
        (400, "pain"),
        (400, "pain"),
        (400, "kind"),
        (400, "id"),
        (400, "id"),
        (400, "id"),
        (400, "data"),
        (400, "owner"),
        (400, "patient"),
        (400, "occurred_at"),
        (400, "red_flags"),
        (400, "red_flags"),
        (201, None),
    ]
    checkins = CheckIn.objects.filter(patient=patient)
    events = RedFlagEvent.objects.filter(patient=patient)
    checkins_before, events_before = checkins.count(), events.count()

    response = send(patient_api, "POST", "/api/sync/", {"items": batch})

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(batch)))
    for result, (status, field) in zip(results, expected, strict=True):
        assert result["status"] == status, result
        if field is not None:
            assert field in result["errors"], result
        assert result["kind"] is None or isinstance(result["kind"], str)
        assert result["id"] is None or isinstance(result["id"], str)
    assert results[6]["id"] is None  # not "None"
    stored = set(checkins.values_list("client_uuid", flat=True))
    assert {uuid.UUID(good_first["id"]), uuid.UUID(good_last["id"])} <= stored
    assert checkins.count() == checkins_before + 2
    assert list(events.values_list("code", flat=True)) == ["saddle_numbness"] * (events_before + 1)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": None}, "items"),
        ({"items": "checkin"}, "items"),
        ({"items": {"kind": "checkin"}}, "items"),
        ({"items": [_item(), 5]}, "items"),
        ({"items": [_item(), "checkin"]}, "items"),
        ({"items": [_item(), None]}, "items"),
        ({"items": [_item(), [_item()]]}, "items"),
        ({"items": [_item()], "owner": 1}, "owner"),
        ({"items": [_item()], "patient": 1}, "patient"),
    ],
    ids=[
        "no-items",
        "empty",
        "null",
        "string",
        "object",
        "int-item",
        "string-item",
        "null-item",
        "list-item",
        "owner",
        "patient",
    ],
)
def test_sync_batch_that_is_not_a_list_of_objects_is_refused_whole(patient_api, episode, body, field, nothing_written):
    """The envelope is the contract: a batch that is not 1-200 objects is refused and nothing of it is stored."""
    with nothing_written():
        assert_refused(send(patient_api, "POST", "/api/sync/", body), 400, field)


def test_sync_batch_of_more_than_200_items_is_refused(patient_api, episode, nothing_written):
    with nothing_written():
        body = assert_refused(send(patient_api, "POST", "/api/sync/", {"items": [_item()] * 201}), 400, "items")
    assert "200" in str(body["items"])


def test_sync_batch_of_200_items_is_answered_item_by_item(patient_api, episode, nothing_written):
    batch = [{"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": 99}} for _ in range(200)]
    with nothing_written():
        response = send(patient_api, "POST", "/api/sync/", {"items": batch})
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == [400] * 200


# --- treatment writes: applications, rest, medication, walks -------------------------------------------

EARLIER = "2026-11-22T09:00:00+00:00"  # inside the `episode` fixture's window
WALK = {"kind": "walking", "started_at": EARLIER, "minutes": 30, "pain_before": 5, "pain_after": 4}
MEDICATION = {"med_class": "nsaid", "dose_mg": 400}
TREATMENT_WRITES = {
    "application": ("PUT", f"/api/applications/{NEW_RECORD}/", {"kind": "ice"}),
    "rest": ("PUT", f"/api/rest/{NEW_RECORD}/", {}),
    "medication": ("PUT", f"/api/medications/{NEW_RECORD}/", MEDICATION),
    "activity": ("PUT", f"/api/activities/{NEW_RECORD}/", WALK),
}


def _treatment_cases():
    timed = {"application": "started_at", "rest": "started_at", "medication": "taken_at", "activity": "started_at"}
    for name, (_, _, good) in TREATMENT_WRITES.items():
        field = timed[name]
        yield name, {**good, field: "2026-11-22T09:00:00"}, field  # no offset
        yield name, {**good, field: "2026-11-22T10:10:00Z"}, field  # in the future
        yield name, {**good, field: 1763802000}, field
        yield name, {**good, field: ""}, field
        yield name, {**good, "episode": "not-a-uuid"}, "episode"
        yield name, {**good, "episode": 5}, "episode"
        yield name, {**good, "episode": "0c6f4b5e-2f7a-4d8e-9a51-3b1f7c2d9e01"}, "episode"  # not mine
        for smuggled in ("patient", "owner", "id", "client_uuid", "payload_hash", "auto_closed", "created_at"):
            yield name, {**good, smuggled: 1}, smuggled
    yield "application", {"kind": "cold"}, "kind"
    yield "application", {}, "kind"
    yield "rest", {"started_at": EARLIER, "stopped_at": EARLIER}, "stopped_at"
    yield "rest", {"started_at": EARLIER, "stopped_at": "2026-11-22T08:30:00Z"}, "stopped_at"
    yield "rest", {"stopped_at": "2026-11-22T10:30:00Z", "started_at": EARLIER}, "stopped_at"
    yield "medication", {"med_class": "vitamin", "dose_mg": 400}, "med_class"
    yield "medication", {"med_class": None, "dose_mg": 400}, "med_class"
    yield "medication", {"med_class": "nsaid", "dose_mg": 1001}, "dose_mg"
    yield "medication", {"med_class": "opioid", "dose_mg": 301}, "dose_mg"
    yield "medication", {"med_class": "nsaid", "dose_mg": "400"}, "dose_mg"
    yield "medication", {"med_class": "nsaid", "dose_mg": [400]}, "dose_mg"
    yield "medication", {"med_class": "nsaid", "dose_mg": 0.001}, "dose_mg"
    yield "activity", {**WALK, "kind": "swimming"}, "kind"
    yield "activity", {**WALK, "minutes": 0}, "minutes"
    yield "activity", {**WALK, "minutes": 9999}, "minutes"
    yield "activity", {**WALK, "pain_after": 11}, "pain_after"
    yield "activity", {**WALK, "pain_before": "5"}, "pain_before"
    yield "activity", {**WALK, "started_at": "2026-11-22T09:45:00Z"}, "minutes"  # not over yet


@pytest.mark.parametrize("name, body, field", list(_treatment_cases()), ids=short_id)
def test_treatment_write_bad_field(patient_api, episode, name, body, field, nothing_written):
    method, url, _ = TREATMENT_WRITES[name]
    with nothing_written():
        assert_refused(send(patient_api, method, url, body), 400, field)


@pytest.mark.parametrize("name", list(TREATMENT_WRITES))
def test_treatment_write_with_the_good_body_is_stored(patient_api, episode, name):
    """The bodies the refusals above start from are themselves accepted."""
    method, url, body = TREATMENT_WRITES[name]
    assert send(patient_api, method, url, body).status_code == 201


@pytest.mark.parametrize("kind", ["applications", "rest"])
def test_stopping_what_does_not_exist_is_a_json_404_and_what_is_not_running_a_409(
    patient_api, episode, kind, nothing_written
):
    stop = f"/api/{kind}/{NEW_RECORD}/stop/"
    with nothing_written():
        assert_refused(send(patient_api, "POST", stop, {}), 404, "detail")
    body = {"kind": "ice"} if kind == "applications" else {}
    assert send(patient_api, "PUT", f"/api/{kind}/{NEW_RECORD}/", body).status_code == 201
    assert send(patient_api, "POST", stop, {"stopped_at": "2026-11-22T10:05:00Z"}).status_code == 200
    with nothing_written():
        assert_refused(send(patient_api, "POST", stop, {}), 409, "detail")
        assert_refused(send(patient_api, "POST", stop, {"stopped_at": "2026-11-22T10:01:00Z"}), 409, "detail")


def test_overlapping_rest_from_an_offline_queue_is_a_409_naming_the_period(patient_api, episode, nothing_written):
    first = {"started_at": "2026-11-22T08:30:00Z", "stopped_at": "2026-11-22T09:30:00Z"}
    assert send(patient_api, "PUT", f"/api/rest/{NEW_RECORD}/", first).status_code == 201
    overlapping = {"started_at": "2026-11-22T09:00:00Z", "stopped_at": "2026-11-22T09:45:00Z"}
    with nothing_written():
        body = assert_refused(send(patient_api, "PUT", f"/api/rest/{uuid.uuid4()}/", overlapping), 409, "overlaps")
    assert body["overlaps"]["id"] == NEW_RECORD


@pytest.mark.parametrize("kind", ["rest", "medications", "activities", "applications"])
def test_treatment_write_with_a_path_id_that_is_not_a_uuid_is_a_json_404(patient_api, episode, kind, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "PUT", f"/api/{kind}/not-a-uuid/", {}), 404, "detail")


# --- list query parameters (the lists share the writes' error format) -----------------------------------

LISTS = [
    "/api/episodes/",
    "/api/checkins/",
    "/api/applications/",
    "/api/rest/",
    "/api/medications/",
    "/api/activities/",
]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("limit", ["abc", "0", "00", "-1", "1.5", "true", "", "１"])
def test_list_with_a_malformed_limit_is_400_naming_it(patient_api, episode, url, limit):
    """DRF would silently fall back to the default page size."""
    assert_refused(patient_api.get(url, {"limit": limit}), 400, "limit")


@pytest.mark.parametrize("limit", ["1", "007", "200", "201", "99999999999999999999"])
def test_list_limit_above_the_maximum_is_capped(patient_api, episode, limit):
    response = patient_api.get("/api/episodes/", {"limit": limit})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("url", [*LISTS[1:], "/api/reminders/"])
@pytest.mark.parametrize("value", ["not-a-uuid", ""])
def test_list_with_a_malformed_episode_filter_is_400(patient_api, episode, url, value):
    assert_refused(patient_api.get(url, {"episode": value}), 400, "episode")


@pytest.mark.parametrize("url", [*LISTS[1:], "/api/reminders/"])
def test_list_filtered_by_another_patients_episode_is_404(patient_api, other_patient, url):
    theirs = EpisodeFactory(patient=other_patient)
    response = patient_api.get(url, {"episode": str(theirs.pk)})
    assert (response.status_code, response.json()) == (404, {"detail": "No such episode."})


# --- devices (more cases in tests/api/test_devices.py) --------------------------------------------------

DEVICE_KEYS = {"p256dh": public_key_b64(generate_private_key()), "auth": b64url_encode(b"0123456789abcdef")}
GOOD_DEVICE = {
    "type": "webpush",
    "subscription": {"endpoint": "https://127.0.0.1:9/push/bad-input", "keys": DEVICE_KEYS},
}


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {**GOOD_DEVICE, "subscription": {**GOOD_DEVICE["subscription"], "endpoint": "http://127.0.0.1:9/x"}},
            "subscription",
        ),
        (
            {**GOOD_DEVICE, "subscription": {**GOOD_DEVICE["subscription"], "keys": {**DEVICE_KEYS, "auth": "AAAA"}}},
            "subscription",
        ),
        (
            {**GOOD_DEVICE, "subscription": {**GOOD_DEVICE["subscription"], "keys": {**DEVICE_KEYS, "p256dh": "AAAA"}}},
            "subscription",
        ),
        ({**GOOD_DEVICE, "type": "sms"}, "type"),
        ({key: value for key, value in GOOD_DEVICE.items() if key != "type"}, "type"),
        ({**GOOD_DEVICE, "name": ["a"]}, "name"),
        ({"type": "fcm", "registration_id": "a token with spaces"}, "registration_id"),
        ({"type": "apns", "registration_id": "not-hex"}, "registration_id"),
    ],
    ids=short_id,
)
def test_device_register_bad_field(patient_api, body, field, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "POST", "/api/devices/", body), 400, field)


@pytest.mark.parametrize("smuggled", [{"user": 1}, {"active": False}, {"id": "webpush:1"}, {"registration_id": "x"}])
def test_device_register_mass_assignment_is_refused(patient_api, smuggled, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "POST", "/api/devices/", {**GOOD_DEVICE, **smuggled}), 400, *smuggled)


def test_device_register_with_the_good_body_is_stored(patient_api, patient):
    assert send(patient_api, "POST", "/api/devices/", GOOD_DEVICE).status_code == 201
    assert WebPushDevice.objects.filter(user=patient).count() == 1


@pytest.mark.parametrize("path", ["webpush:abc", "push:1", "webpush:0", "1"])
def test_device_path_id_that_is_not_one_is_a_json_404(patient_api, path, nothing_written):
    with nothing_written():
        assert_refused(send(patient_api, "PATCH", f"/api/devices/{path}/", {"name": "x"}), 404, "detail")
