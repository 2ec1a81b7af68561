"""Nobody sees what is not theirs.

Every URL pattern under /api/ is found by walking Django's resolver, and each must have a rule in
ROUTES saying how to exercise it. A new endpoint without a rule (or a new method on an endpoint)
fails test_every_api_route_has_a_rule, so isolation is decided when the endpoint is added.

For every route and method:
  * anonymous callers (no credentials, or a bad token) get 401/403 and no data, except sign-up/in;
  * a physiotherapist on a patient endpoint gets 403, and a patient on a physiotherapist endpoint too;
  * a physiotherapist reaches a patient only while the patient's care link to them is active: one never
    linked, one the patient revoked and one who discharged the patient all get 404 (no oracle: the same
    answer as for a patient id that does not exist), and the linked one gets the data;
  * a patient aiming at another patient's episode or check-in gets 404 (or, for writes keyed by a
    client id, their own new record / a refusal), the answer does not mention anything of the
    other's, and the other's rows are unchanged.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone
from knox.models import AuthToken
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice
from rest_framework.test import APIClient

from backcare.accounts.models import Profile, User
from backcare.audit.models import AccessLog
from backcare.push.vapid import b64url_encode, generate_private_key, public_key_b64
from content.selectors import redflag_ruleset_current
from recovery.care.models import CareLink, CareNote
from recovery.care.services import care_link_discharge, care_link_revoke
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.outcomes.models import QuestionnaireResponse
from recovery.reminders.models import Reminder
from recovery.treatment.models import Activity, Application, MedicationIntake, Prescription, RestPeriod
from recovery.triage.models import ClinicianAlert
from tests.factories import PASSWORD, AccessContextFactory, CheckInFactory, EpisodeFactory, PhysioFactory, UserFactory

pytestmark = pytest.mark.django_db

# Documentation, not data: the schema describes endpoints, it holds nobody's records.
NOT_DATA_ROUTES = {"schema", "api-docs", "api-redoc"}

OTHER_NAME = "Zebediah-Otherperson"
OTHER_ZONE = "Pacific/Chatham"
OTHER_EPISODE_NOTES = "other-episode-notes-7f3a"
OTHER_CHECKIN_NOTE = "other-checkin-note-c41d"
MY_NOTE = "my-own-note"
OTHER_MEDICATION_NAME = "other-medication-name-9b2e"
OTHER_DEVICE_NAME = "other-device-name-5d1e"
OTHER_DEVICE_ENDPOINT = "https://127.0.0.1:9/push/other-device-endpoint-8c2f"  # stored, never sent to
OTHER_CARE_NOTE = "other-care-note-3e9a"
OTHER_PRESCRIPTION_NOTE = "other-prescription-note-d07c"
OTHER_ACCESS_REQUEST = "other-access-request-61f0"


# --- the world: me, another patient with data, a physiotherapist ---------------------------


@dataclass
class World:
    me: User
    other: User
    physio: User
    my_episode: Episode
    my_checkin: CheckIn
    other_episode: Episode
    other_checkin: CheckIn
    other_application: Application
    other_rest: RestPeriod
    other_medication: MedicationIntake
    other_activity: Activity
    clients: dict[str, APIClient] = field(default_factory=dict)
    # The other patient's care team: linked now, revoked by the patient, discharged by the physiotherapist.
    linked_physio: User | None = None
    revoked_physio: User | None = None
    discharged_physio: User | None = None
    other_link: CareLink | None = None

    def markers(self, *, echoed: frozenset[str] = frozenset()) -> dict[str, str]:
        """Strings that identify the other patient's data; none may appear in my answers."""
        found = {
            "other_email": self.other.email,
            "other_name": OTHER_NAME,
            "other_episode_id": str(self.other_episode.id),
            "other_episode_client_uuid": str(self.other_episode.client_uuid),
            "other_episode_notes": OTHER_EPISODE_NOTES,
            "other_checkin_note": OTHER_CHECKIN_NOTE,
            "other_checkin_id": str(self.other_checkin.client_uuid),
            "other_timezone": OTHER_ZONE,
            "other_application_id": str(self.other_application.client_uuid),
            "other_rest_id": str(self.other_rest.client_uuid),
            "other_medication_id": str(self.other_medication.client_uuid),
            "other_medication_name": OTHER_MEDICATION_NAME,
            "other_activity_id": str(self.other_activity.client_uuid),
            "other_device_name": OTHER_DEVICE_NAME,
            "other_device_endpoint": OTHER_DEVICE_ENDPOINT,
            "other_device_id": f'"{_other_device(self)}"',  # quoted: "webpush:5" is not inside "webpush:56"
            "other_link_id": str(self.other_link.id) if self.other_link else "no-link",
            "other_care_note": OTHER_CARE_NOTE,
            "other_prescription_note": OTHER_PRESCRIPTION_NOTE,
            "other_access_request": OTHER_ACCESS_REQUEST,
            "other_response_id": str(_other_response(self)),
        }
        return {name: value for name, value in found.items() if name not in echoed}


def token_client(user: User | None) -> APIClient:
    """A client that authenticates for real (knox token), not with force_authenticate."""
    client = APIClient()
    if user is not None:
        _, raw = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def _first_flag_code() -> str | None:
    ruleset = redflag_ruleset_current()
    rule = ruleset.rules.first() if ruleset else None
    return rule.code if rule else None


@pytest.fixture
def world(db) -> World:
    me = UserFactory(display_name="Me Myself")
    other = UserFactory(display_name=OTHER_NAME, with_profile=OTHER_ZONE)
    physio = PhysioFactory(display_name="Physio Person")

    # The other patient's data goes through the API, so it is exactly what real use stores.
    other_api = token_client(other)
    response = other_api.post(
        "/api/episodes/",
        {
            "onset": (timezone.now() - timedelta(hours=3)).isoformat(),
            "trigger": "lifting",
            "notes": OTHER_EPISODE_NOTES,
            "client_uuid": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 201, response.content
    other_episode = Episode.objects.get(pk=response.json()["id"])
    flag = _first_flag_code()
    body = {"pain": 9, "note": OTHER_CHECKIN_NOTE, "stiffness": 8, "red_flags": {flag: True} if flag else {}}
    response = other_api.put(f"/api/checkins/{uuid.uuid4()}/", body)
    assert response.status_code == 201, response.content
    other_checkin = CheckIn.objects.get(patient=other)
    now = timezone.now()
    for path, body in (
        ("applications", {"kind": "ice"}),
        (
            "rest",
            {
                "started_at": (now - timedelta(hours=2)).isoformat(),
                "stopped_at": (now - timedelta(hours=1)).isoformat(),
            },
        ),
        (
            "medications",
            {
                "med_class": "opioid",
                "dose_mg": 10,
                "name": OTHER_MEDICATION_NAME,
                "taken_at": (now - timedelta(hours=1)).isoformat(),
            },
        ),
        (
            "activities",
            {
                "kind": "walking",
                "started_at": (now - timedelta(minutes=50)).isoformat(),
                "minutes": 30,
                "pain_before": 6,
                "pain_after": 5,
            },
        ),
    ):
        response = other_api.put(f"/api/{path}/{uuid.uuid4()}/", body)
        assert response.status_code == 201, response.content
    peg = {"questionnaire": "peg", "answers": {"pain": 9, "enjoyment": 8, "activity": 7}}
    response = other_api.put(f"/api/questionnaire-responses/{uuid.uuid4()}/", peg, format="json")
    assert response.status_code == 201, response.content
    response = other_api.post(
        "/api/devices/",
        {"type": "webpush", "name": OTHER_DEVICE_NAME, "subscription": _subscription(OTHER_DEVICE_ENDPOINT)},
    )
    assert response.status_code == 201, response.content

    my_episode = EpisodeFactory(patient=me, onset=timezone.now() - timedelta(hours=2))
    my_checkin = CheckInFactory(episode=my_episode, pain=2, note=MY_NOTE)
    w = World(
        me,
        other,
        physio,
        my_episode,
        my_checkin,
        other_episode,
        other_checkin,
        Application.objects.get(patient=other),
        RestPeriod.objects.get(patient=other),
        MedicationIntake.objects.get(patient=other),
        Activity.objects.get(patient=other),
    )
    w.clients = {"me": token_client(me), "physio": token_client(physio), "anonymous": token_client(None)}

    # The other patient's care team, and what it wrote.
    w.linked_physio = PhysioFactory(display_name="Linked Physio")
    w.other_link = CareLink.objects.create(patient=other, physiotherapist=w.linked_physio, consented_at=timezone.now())
    CareNote.objects.create(
        patient=other, author=w.linked_physio, episode=other_episode, text=OTHER_CARE_NOTE, created_at=timezone.now()
    )
    Prescription.objects.create(
        episode=other_episode, overrides={"ice_on_min": 15}, note=OTHER_PRESCRIPTION_NOTE, created_by=w.linked_physio
    )
    AccessLog.objects.create(
        at=timezone.now(),
        actor=w.linked_physio,
        actor_label="Linked Physio",
        patient=other,
        action="patient.timeline",
        path="/",
        request_id=OTHER_ACCESS_REQUEST,
    )
    w.revoked_physio = PhysioFactory(display_name="Revoked Physio")
    revoked = CareLink.objects.create(patient=other, physiotherapist=w.revoked_physio, consented_at=timezone.now())
    care_link_revoke(patient=other, link_id=revoked.id)
    w.discharged_physio = PhysioFactory(display_name="Discharged Physio")
    CareLink.objects.create(patient=other, physiotherapist=w.discharged_physio, consented_at=timezone.now())
    care_link_discharge(
        physiotherapist=w.discharged_physio,
        patient_id=other.pk,
        access=AccessContextFactory(request_id=OTHER_ACCESS_REQUEST),  # a discharge is in the log too
    )
    for name in ("linked_physio", "revoked_physio", "discharged_physio"):
        w.clients[name] = token_client(getattr(w, name))
    return w


def snapshot(user: User) -> dict[str, Any]:
    """Everything stored for a user, to prove a request did not touch it."""
    return {
        "user": User.objects.filter(pk=user.pk).values().get(),
        "profile": list(Profile.objects.filter(user=user).values()),
        "episodes": list(Episode.objects.filter(patient=user).order_by("pk").values()),
        "checkins": list(CheckIn.objects.filter(patient=user).order_by("pk").values()),
        "redflags": list(RedFlagEvent.objects.filter(patient=user).order_by("pk").values()),
        "applications": list(Application.objects.filter(patient=user).order_by("pk").values()),
        "rests": list(RestPeriod.objects.filter(patient=user).order_by("pk").values()),
        "medications": list(MedicationIntake.objects.filter(patient=user).order_by("pk").values()),
        "activities": list(Activity.objects.filter(patient=user).order_by("pk").values()),
        "reminders": list(Reminder.objects.filter(patient=user).order_by("pk").values()),
        "tokens": list(AuthToken.objects.filter(user=user).order_by("digest").values_list("digest", "expiry")),
        "care_links": list(CareLink.objects.filter(patient=user).order_by("pk").values()),
        "care_notes": list(CareNote.objects.filter(patient=user).order_by("pk").values()),
        "prescriptions": list(Prescription.objects.filter(episode__patient=user).order_by("pk").values()),
        "questionnaire_responses": list(QuestionnaireResponse.objects.filter(patient=user).order_by("pk").values()),
        **{
            f"devices_{model.__name__}": list(model.objects.filter(user=user).order_by("pk").values())
            for model in (WebPushDevice, GCMDevice, APNSDevice)
        },
    }


# --- the route table ------------------------------------------------------------------------

PUBLIC = "public"  # sign-up and sign-in: anyone may call them
SIGNED_IN = "signed-in"  # any signed-in account, patient or physiotherapist, about itself
PATIENT = "patient"  # patient data: patients only, and only their own
PHYSIO = "physio"  # physiotherapists only, and only about patients linked to them now

DENIED = frozenset({401, 403})
FORBIDDEN = frozenset({403})
NOT_FOUND = frozenset({404})
OK = frozenset({200})


@dataclass(frozen=True)
class Call:
    method: str
    # Builds the path aimed at the other patient's data (or at the caller's own, if it has no target).
    path: Callable[[World], str]
    body: Callable[[World], Any] | None = None
    # Statuses a patient may get from this call when it targets the other patient's data.
    as_patient: frozenset[int] = frozenset({404})
    # Statuses an anonymous caller may get (only public routes list any besides 401/403).
    anonymous: frozenset[int] = DENIED
    # Markers the answer may legitimately contain because the request itself carried them.
    echoed: frozenset[str] = frozenset()
    # PHYSIO routes: statuses a physiotherapist not (or no longer) linked to the other patient may get,
    # and the ones the linked physiotherapist gets (None: the call is not about the other patient).
    as_physio: frozenset[int] = NOT_FOUND
    as_linked: frozenset[int] | None = None


@dataclass(frozen=True)
class Rule:
    access: str
    calls: tuple[Call, ...]


def _new_email(w: World) -> str:
    return f"new-{uuid.uuid4().hex[:8]}@example.test"


def _med_body() -> dict:
    return {"med_class": "nsaid", "dose_mg": 400}


def _walk_body(episode_id: uuid.UUID | None = None) -> dict:
    body = {
        "kind": "walking",
        "started_at": (timezone.now() - timedelta(minutes=40)).isoformat(),
        "minutes": 20,
        "pain_before": 4,
        "pain_after": 3,
    }
    return {**body, "episode": str(episode_id)} if episode_id else body


def _subscription(endpoint: str) -> dict:
    keys = {"p256dh": public_key_b64(generate_private_key()), "auth": b64url_encode(uuid.uuid4().bytes)}
    return {"endpoint": endpoint, "keys": keys}


def _other_response(w: World) -> uuid.UUID | str:
    response = QuestionnaireResponse.objects.filter(patient=w.other).first()
    return response.client_uuid if response else "no-response"


def _peg_body(episode_id=None) -> dict:
    body = {"questionnaire": "peg", "answers": {"pain": 1, "enjoyment": 1, "activity": 1}}
    return {**body, "episode": str(episode_id)} if episode_id else body


def _other_device(w: World) -> str:
    device = WebPushDevice.objects.filter(user=w.other).first()
    return f"webpush:{device.pk}" if device else "webpush:none"


def _other_alert(w: World) -> int:
    return ClinicianAlert.objects.filter(patient=w.other).values_list("pk", flat=True).first() or 0


def _other_reminder(w: World) -> int:
    return Reminder.objects.filter(patient=w.other).order_by("pk").values_list("pk", flat=True)[0]


def _my_reminder_token(w: World) -> str:
    # A validly signed token, but for another reminder: it must not unlock the other's.
    from django.utils import timezone

    from recovery.reminders.acks import reminder_ack_token

    mine = Reminder(pk=_other_reminder(w) + 1_000_000, kind="checkin", due_at=timezone.now(), safety=False)
    return reminder_ack_token(reminder=mine)


ROUTES: dict[str, Rule] = {
    "auth-register": Rule(
        PUBLIC,
        (
            # Another person's address: refused as taken, nothing about the account is shown.
            Call(
                "post",
                lambda w: "/api/auth/register/",
                lambda w: {"email": w.other.email, "password": PASSWORD},
                as_patient=frozenset({409}),
                anonymous=frozenset({409}),
            ),
            Call(
                "post",
                lambda w: "/api/auth/register/",
                lambda w: {"email": _new_email(w), "password": PASSWORD},
                as_patient=frozenset({201}),
                anonymous=frozenset({201}),
            ),
        ),
    ),
    "auth-login": Rule(
        PUBLIC,
        (
            Call(
                "post",
                lambda w: "/api/auth/login/",
                lambda w: {"email": w.other.email, "password": "guess-1234"},
                as_patient=frozenset({400}),
                anonymous=frozenset({400}),
            ),
        ),
    ),
    "auth-logout": Rule(SIGNED_IN, (Call("post", lambda w: "/api/auth/logout/", as_patient=frozenset({204})),)),
    "me": Rule(SIGNED_IN, (Call("get", lambda w: "/api/me/", as_patient=frozenset({200})),)),
    "me-profile": Rule(
        SIGNED_IN,
        (
            Call("get", lambda w: "/api/me/profile/", as_patient=frozenset({200})),
            Call(
                "patch", lambda w: "/api/me/profile/", lambda w: {"timezone": "Asia/Tokyo"}, as_patient=frozenset({200})
            ),
        ),
    ),
    "episode-list": Rule(
        PATIENT,
        (
            Call("get", lambda w: "/api/episodes/", as_patient=frozenset({200})),
            # Replaying the other's offline client id must not hand back their episode.
            Call(
                "post",
                lambda w: "/api/episodes/",
                lambda w: {
                    "onset": w.other_episode.onset.isoformat(),
                    "trigger": w.other_episode.trigger,
                    "notes": "",
                    "client_uuid": str(w.other_episode.client_uuid),
                },
                as_patient=frozenset({409}),  # I already have an open episode of my own
            ),
        ),
    ),
    "episode-detail": Rule(PATIENT, (Call("get", lambda w: f"/api/episodes/{w.other_episode.id}/"),)),
    "episode-resolve": Rule(
        PATIENT, (Call("post", lambda w: f"/api/episodes/{w.other_episode.id}/resolve/", lambda w: {}),)
    ),
    "episode-resume": Rule(
        PATIENT, (Call("post", lambda w: f"/api/episodes/{w.other_episode.id}/resume/", lambda w: {}),)
    ),
    "episode-daily": Rule(PATIENT, (Call("get", lambda w: f"/api/episodes/{w.other_episode.id}/daily/"),)),
    "checkin-list": Rule(
        PATIENT,
        (
            Call("get", lambda w: "/api/checkins/", as_patient=frozenset({200})),
            Call("get", lambda w: f"/api/checkins/?episode={w.other_episode.id}"),
        ),
    ),
    "checkin-detail": Rule(
        PATIENT,
        (
            Call("get", lambda w: f"/api/checkins/{w.other_checkin.client_uuid}/"),
            # The other's client id: at most a new record of mine (201), or a refusal; never theirs.
            Call(
                "put",
                lambda w: f"/api/checkins/{w.other_checkin.client_uuid}/",
                lambda w: {"pain": 3},
                as_patient=frozenset({201, 400, 404, 409}),
                echoed=frozenset({"other_checkin_id"}),
            ),
            # Filing my check-in under the other's episode is refused.
            Call(
                "put",
                lambda w: f"/api/checkins/{uuid.uuid4()}/",
                lambda w: {"pain": 3, "episode": str(w.other_episode.id)},
                as_patient=frozenset({400, 404}),
            ),
        ),
    ),
    "sync": Rule(
        PATIENT,
        (
            Call(
                "post",
                lambda w: "/api/sync/",
                lambda w: {
                    "items": [
                        {"kind": "checkin", "id": str(w.other_checkin.client_uuid), "data": {"pain": 3}},
                        {
                            "kind": "checkin",
                            "id": str(uuid.uuid4()),
                            "data": {"pain": 3, "episode": str(w.other_episode.id)},
                        },
                        {"kind": "rest_stop", "id": str(w.other_rest.client_uuid), "data": {}},
                        {"kind": "application_stop", "id": str(w.other_application.client_uuid), "data": {}},
                        {"kind": "medication", "id": str(w.other_medication.client_uuid), "data": _med_body()},
                        {"kind": "activity", "id": str(uuid.uuid4()), "data": _walk_body(w.other_episode.id)},
                        {"kind": "rest", "id": str(uuid.uuid4()), "data": {"episode": str(w.other_episode.id)}},
                        {"kind": "questionnaire_response", "id": str(_other_response(w)), "data": _peg_body()},
                        {
                            "kind": "questionnaire_response",
                            "id": str(uuid.uuid4()),
                            "data": _peg_body(w.other_episode.id),
                        },
                    ]
                },
                as_patient=frozenset({200}),
                echoed=frozenset(
                    {
                        "other_checkin_id",
                        "other_rest_id",
                        "other_application_id",
                        "other_medication_id",
                        "other_response_id",
                    }
                ),
            ),
        ),
    ),
    "episode-state": Rule(PATIENT, (Call("get", lambda w: f"/api/episodes/{w.other_episode.id}/state/"),)),
    "episode-protocol": Rule(PATIENT, (Call("get", lambda w: f"/api/episodes/{w.other_episode.id}/protocol/"),)),
    # The key browsers subscribe with: the server's, the same for everyone.
    "push-vapid-key": Rule(SIGNED_IN, (Call("get", lambda w: "/api/push/vapid-key/", as_patient=frozenset({200})),)),
    # Which device types the server accepts: the same for everyone.
    "push-capabilities": Rule(
        SIGNED_IN, (Call("get", lambda w: "/api/push/capabilities/", as_patient=frozenset({200})),)
    ),
    # Registering the endpoint another account holds moves it to the caller by design (a browser profile
    # that changed hands; see backcare/push/services.py): it changes the other's rows, so it is not a call
    # here. tests/api/test_devices.py checks that the move gives a new id and shows nothing of theirs.
    # Issue 13: physiotherapists register devices too (red-flag alerts); each account only its own.
    "device-list": Rule(
        SIGNED_IN,
        (
            Call("get", lambda w: "/api/devices/", as_patient=frozenset({200})),
            Call(
                "post",
                lambda w: "/api/devices/",
                lambda w: {
                    "type": "webpush",
                    "subscription": _subscription(f"https://127.0.0.1:9/push/{uuid.uuid4()}"),
                },
                as_patient=frozenset({201}),
            ),
        ),
    ),
    "device-detail": Rule(
        SIGNED_IN,
        (
            Call("get", lambda w: f"/api/devices/{_other_device(w)}/"),
            Call("patch", lambda w: f"/api/devices/{_other_device(w)}/", lambda w: {"name": "mine now"}),
            Call("delete", lambda w: f"/api/devices/{_other_device(w)}/"),
        ),
    ),
    # I have no device: nothing is sent, and certainly not to the other's.
    "device-test": Rule(
        SIGNED_IN, (Call("post", lambda w: "/api/devices/test/", lambda w: {}, as_patient=frozenset({409})),)
    ),
    "reminder-list": Rule(
        PATIENT,
        (
            Call("get", lambda w: "/api/reminders/", as_patient=frozenset({200})),
            Call("get", lambda w: f"/api/reminders/?episode={w.other_episode.id}"),
        ),
    ),
    "reminder-detail": Rule(PATIENT, (Call("get", lambda w: f"/api/reminders/{_other_reminder(w)}/"),)),
    "reminder-ack": Rule(
        PATIENT,
        (Call("post", lambda w: f"/api/reminders/{_other_reminder(w)}/ack/", lambda w: {"action": "skip"}),),
    ),
    # The service worker's ack carries a signed token; without the right one nobody touches a reminder.
    "reminder-token-ack": Rule(
        PUBLIC,
        (
            Call(
                "post",
                lambda w: "/api/reminders/ack/",
                lambda w: {"reminder": _other_reminder(w), "action": "skip", "token": "forged"},
                as_patient=frozenset({404}),
                anonymous=frozenset({404}),
            ),
            Call(
                "post",
                lambda w: "/api/reminders/ack/",
                lambda w: {"reminder": _other_reminder(w), "action": "skip", "token": _my_reminder_token(w)},
                as_patient=frozenset({404}),
                anonymous=frozenset({404}),
            ),
        ),
    ),
    **{
        f"{name}-list": Rule(
            PATIENT,
            (
                Call("get", lambda w, path=path: f"/api/{path}/", as_patient=frozenset({200})),
                Call("get", lambda w, path=path: f"/api/{path}/?episode={w.other_episode.id}"),
            ),
        )
        for name, path in (
            ("application", "applications"),
            ("rest", "rest"),
            ("medication", "medications"),
            ("activity", "activities"),
        )
    },
    "application-detail": Rule(
        PATIENT,
        (
            Call("get", lambda w: f"/api/applications/{w.other_application.client_uuid}/"),
            # The other's client id: at most a new record of mine, or a refusal; never theirs.
            Call(
                "put",
                lambda w: f"/api/applications/{w.other_application.client_uuid}/",
                lambda w: {"kind": "ice"},
                as_patient=frozenset({201, 409}),
                echoed=frozenset({"other_application_id"}),
            ),
            Call(
                "put",
                lambda w: f"/api/applications/{uuid.uuid4()}/",
                lambda w: {"kind": "ice", "episode": str(w.other_episode.id)},
                as_patient=frozenset({400}),
            ),
        ),
    ),
    "application-stop": Rule(
        PATIENT,
        (Call("post", lambda w: f"/api/applications/{w.other_application.client_uuid}/stop/", lambda w: {}),),
    ),
    "rest-detail": Rule(
        PATIENT,
        (
            Call("get", lambda w: f"/api/rest/{w.other_rest.client_uuid}/"),
            Call(
                "put",
                lambda w: f"/api/rest/{w.other_rest.client_uuid}/",
                lambda w: {
                    "started_at": w.other_rest.started_at.isoformat(),
                    "stopped_at": w.other_rest.stopped_at.isoformat(),
                },
                as_patient=frozenset({201, 400, 409}),
                echoed=frozenset({"other_rest_id"}),
            ),
            Call(
                "put",
                lambda w: f"/api/rest/{uuid.uuid4()}/",
                lambda w: {"episode": str(w.other_episode.id)},
                as_patient=frozenset({400}),
            ),
        ),
    ),
    "rest-stop": Rule(PATIENT, (Call("post", lambda w: f"/api/rest/{w.other_rest.client_uuid}/stop/", lambda w: {}),)),
    "medication-detail": Rule(
        PATIENT,
        (
            Call("get", lambda w: f"/api/medications/{w.other_medication.client_uuid}/"),
            # Their id and exactly their body: a new record of mine, not a replay of theirs.
            Call(
                "put",
                lambda w: f"/api/medications/{w.other_medication.client_uuid}/",
                lambda w: {
                    "med_class": "opioid",
                    "dose_mg": 10,
                    "name": OTHER_MEDICATION_NAME,
                    "taken_at": w.other_medication.taken_at.isoformat(),
                },
                as_patient=frozenset({201}),
                echoed=frozenset({"other_medication_id", "other_medication_name"}),
            ),
            Call(
                "put",
                lambda w: f"/api/medications/{uuid.uuid4()}/",
                lambda w: {**_med_body(), "episode": str(w.other_episode.id)},
                as_patient=frozenset({400}),
            ),
        ),
    ),
    "activity-detail": Rule(
        PATIENT,
        (
            Call("get", lambda w: f"/api/activities/{w.other_activity.client_uuid}/"),
            Call(
                "put",
                lambda w: f"/api/activities/{w.other_activity.client_uuid}/",
                lambda w: _walk_body(),
                as_patient=frozenset({201}),
                echoed=frozenset({"other_activity_id"}),
            ),
            Call(
                "put",
                lambda w: f"/api/activities/{uuid.uuid4()}/",
                lambda w: _walk_body(w.other_episode.id),
                as_patient=frozenset({400}),
            ),
        ),
    ),
    # The library is the same for everyone signed in: it holds nobody's records.
    "library-list": Rule(
        SIGNED_IN,
        (Call("get", lambda w: "/api/library/?q=ice", as_patient=frozenset({200})),),
    ),
    "library-detail": Rule(
        SIGNED_IN,
        (Call("get", lambda w: "/api/library/applying-ice-safely/", as_patient=frozenset({200})),),
    ),
    "library-red-flags": Rule(
        SIGNED_IN,
        (Call("get", lambda w: "/api/library/red-flags/", as_patient=frozenset({200})),),
    ),
    # Guidance follows the caller's own episode; another patient's episode is not found.
    "library-for-me": Rule(
        PATIENT,
        (
            Call("get", lambda w: "/api/library/for-me/", as_patient=frozenset({200})),
            Call("get", lambda w: f"/api/library/for-me/?episode={w.other_episode.id}"),
        ),
    ),
    # --- the care team: consent (patients) -------------------------------------------------------
    # A code that is nobody's: refused as wrong, and nothing links.
    "care-redeem": Rule(
        PATIENT,
        (Call("post", lambda w: "/api/care/redeem/", lambda w: {"code": "ABCDE-FGHJK"}, as_patient=frozenset({400})),),
    ),
    "care-link-list": Rule(
        PATIENT,
        (
            Call("get", lambda w: "/api/care/links/", as_patient=frozenset({200})),
            Call("get", lambda w: "/api/care/links/?status=active", as_patient=frozenset({200})),
        ),
    ),
    # The other's link: not found, and it stays active.
    "care-link-revoke": Rule(
        PATIENT, (Call("post", lambda w: f"/api/care/links/{w.other_link.id}/revoke/", lambda w: {}),)
    ),
    "care-access-log": Rule(PATIENT, (Call("get", lambda w: "/api/care/access-log/", as_patient=frozenset({200})),)),
    # --- the patient's own data: downloads and deletion ----------------------------------------------
    "me-export": Rule(PATIENT, (Call("get", lambda w: "/api/me/export/", as_patient=frozenset({200})),)),
    **{
        name: Rule(
            PATIENT,
            (
                Call("get", lambda w, path=path: path, as_patient=frozenset({200})),
                # The other's episode is "no such episode", like one that does not exist.
                Call("get", lambda w, path=path: f"{path}?episode={w.other_episode.id}", as_patient=frozenset({400})),
            ),
        )
        for name, path in (("me-export-fhir", "/api/me/export/fhir/"), ("me-export-csv", "/api/me/export/timeline.csv"))
    },
    # Deleting is always of oneself: a refusal without the exact phrase, then my own account goes, and the
    # other patient's rows stay exactly as they were (checked by every caller of this table).
    "me-delete": Rule(
        PATIENT,
        (
            Call(
                "post",
                lambda w: "/api/me/delete/",
                lambda w: {"password": PASSWORD, "confirm": "yes"},
                as_patient=frozenset({400}),
            ),
            Call(
                "post",
                lambda w: "/api/me/delete/",
                lambda w: {"password": PASSWORD, "confirm": "delete my account"},
                as_patient=frozenset({200}),
            ),
        ),
    ),
    # --- the care team: physiotherapists -----------------------------------------------------------
    "physio-invite-list": Rule(
        PHYSIO,
        (
            Call("get", lambda w: "/api/physio/invites/", as_patient=FORBIDDEN, as_physio=frozenset({200})),
            Call(
                "post", lambda w: "/api/physio/invites/", lambda w: {}, as_patient=FORBIDDEN, as_physio=frozenset({201})
            ),
        ),
    ),
    # The queue of a physiotherapist not linked to the other patient holds nothing of theirs.
    # Issue 13: the other patient answered an emergency in the world's check-in: their alert.
    "physio-alerts": Rule(
        PHYSIO,
        (Call("get", lambda w: "/api/physio/alerts/", as_patient=FORBIDDEN, as_physio=OK, as_linked=OK),),
    ),
    "physio-alert-ack": Rule(
        PHYSIO,
        (
            Call(
                "post",
                lambda w: f"/api/physio/alerts/{_other_alert(w)}/acknowledge/",
                lambda w: {},
                as_patient=FORBIDDEN,
                as_linked=OK,
            ),
        ),
    ),
    "physio-triage": Rule(
        PHYSIO,
        (
            Call(
                "get",
                lambda w: "/api/physio/patients/",
                as_patient=FORBIDDEN,
                as_physio=frozenset({200}),
                as_linked=frozenset({200}),
            ),
            Call(
                "get",
                lambda w: f"/api/physio/patients/?search={w.other.email}",
                as_patient=FORBIDDEN,
                as_physio=frozenset({200}),
                as_linked=frozenset({200}),
                echoed=frozenset({"other_email"}),
            ),
        ),
    ),
    "physio-patient-detail": Rule(
        PHYSIO, (Call("get", lambda w: f"/api/physio/patients/{w.other.pk}/", as_patient=FORBIDDEN, as_linked=OK),)
    ),
    "physio-patient-timeline": Rule(
        PHYSIO,
        (
            Call("get", lambda w: f"/api/physio/patients/{w.other.pk}/timeline/", as_patient=FORBIDDEN, as_linked=OK),
            Call(
                "get",
                lambda w: (
                    f"/api/physio/patients/{w.other.pk}/timeline/?kinds=note,checkin&episode={w.other_episode.id}"
                ),
                as_patient=FORBIDDEN,
                as_linked=OK,
                echoed=frozenset({"other_episode_id"}),
            ),
        ),
    ),
    "questionnaire-list": Rule(PATIENT, (Call("get", lambda w: "/api/questionnaires/", as_patient=OK),)),
    "questionnaire-open": Rule(PATIENT, (Call("get", lambda w: "/api/questionnaires/open/", as_patient=OK),)),
    "questionnaire-detail": Rule(PATIENT, (Call("get", lambda w: "/api/questionnaires/peg/", as_patient=OK),)),
    "questionnaire-response-list": Rule(
        PATIENT,
        (
            Call("get", lambda w: "/api/questionnaire-responses/", as_patient=OK),
            Call("get", lambda w: f"/api/questionnaire-responses/?episode={w.other_episode.id}"),
        ),
    ),
    "questionnaire-response-detail": Rule(
        PATIENT,
        (
            Call("get", lambda w: f"/api/questionnaire-responses/{_other_response(w)}/"),
            # The other's client id: at most a new record of mine (201), or a refusal; never theirs.
            Call(
                "put",
                lambda w: f"/api/questionnaire-responses/{_other_response(w)}/",
                lambda w: _peg_body(),
                as_patient=frozenset({201, 400, 404, 409}),
                echoed=frozenset({"other_response_id"}),
            ),
            # Filing my answers under the other's episode is refused.
            Call(
                "put",
                lambda w: f"/api/questionnaire-responses/{uuid.uuid4()}/",
                lambda w: _peg_body(w.other_episode.id),
                as_patient=frozenset({400}),
                echoed=frozenset({"other_episode_id"}),
            ),
        ),
    ),
    "physio-patient-outcomes": Rule(
        PHYSIO,
        (
            Call("get", lambda w: f"/api/physio/patients/{w.other.pk}/outcomes/", as_patient=FORBIDDEN, as_linked=OK),
            Call(
                "get",
                lambda w: f"/api/physio/patients/{w.other.pk}/outcomes/?episode={w.other_episode.id}",
                as_patient=FORBIDDEN,
                as_linked=OK,
                echoed=frozenset({"other_episode_id"}),
            ),
        ),
    ),
    "physio-patient-daily": Rule(
        PHYSIO,
        (Call("get", lambda w: f"/api/physio/patients/{w.other.pk}/daily/", as_patient=FORBIDDEN, as_linked=OK),),
    ),
    "physio-patient-notes": Rule(
        PHYSIO,
        (
            Call("get", lambda w: f"/api/physio/patients/{w.other.pk}/notes/", as_patient=FORBIDDEN, as_linked=OK),
            Call(
                "post",
                lambda w: f"/api/physio/patients/{w.other.pk}/notes/",
                lambda w: {"text": "a note"},
                as_patient=FORBIDDEN,
                as_linked=frozenset({201}),
            ),
        ),
    ),
    "physio-patient-protocol": Rule(
        PHYSIO,
        (
            Call("get", lambda w: f"/api/physio/patients/{w.other.pk}/protocol/", as_patient=FORBIDDEN, as_linked=OK),
            Call(
                "post",
                lambda w: f"/api/physio/patients/{w.other.pk}/protocol/",
                lambda w: {"overrides": {"ice_on_min": 10}},
                as_patient=FORBIDDEN,
                as_linked=frozenset({201}),
            ),
        ),
    ),
    "physio-patient-reviewed": Rule(
        PHYSIO,
        (
            Call(
                "post",
                lambda w: f"/api/physio/patients/{w.other.pk}/reviewed/",
                lambda w: {},
                as_patient=FORBIDDEN,
                as_linked=OK,
            ),
        ),
    ),
    "physio-patient-export-fhir": Rule(
        PHYSIO,
        (
            Call(
                "get", lambda w: f"/api/physio/patients/{w.other.pk}/export/fhir/", as_patient=FORBIDDEN, as_linked=OK
            ),
            Call(
                "get",
                lambda w: f"/api/physio/patients/{w.other.pk}/export/fhir/?episode={w.other_episode.id}",
                as_patient=FORBIDDEN,
                as_linked=OK,
                echoed=frozenset({"other_episode_id"}),
            ),
        ),
    ),
    "physio-patient-export-csv": Rule(
        PHYSIO,
        (
            Call(
                "get",
                lambda w: f"/api/physio/patients/{w.other.pk}/export/timeline.csv",
                as_patient=FORBIDDEN,
                as_linked=OK,
            ),
        ),
    ),
    "physio-patient-discharge": Rule(
        PHYSIO,
        (
            Call(
                "post",
                lambda w: f"/api/physio/patients/{w.other.pk}/discharge/",
                lambda w: {},
                as_patient=FORBIDDEN,
                as_linked=OK,
            ),
        ),
    ),
}


# --- walking the resolver -------------------------------------------------------------------

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def api_routes() -> dict[str | None, list]:
    """Every URL pattern whose full route starts with api/, by name (None for an unnamed one)."""
    found: dict[str | None, list] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^")
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith("api/"):
                found.setdefault(pattern.name, []).append((route, pattern))

    walk(get_resolver().url_patterns, "")
    return found


def implemented_methods(pattern) -> set[str]:
    view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    if view is None:
        return {"<function view: list its methods in ROUTES by hand>"}
    return {method for method in HTTP_METHODS if hasattr(view, method)}


DATA_ROUTES = sorted(name for name in api_routes() if name not in NOT_DATA_ROUTES and name is not None)


def test_every_api_route_has_a_rule():
    routes = api_routes()
    assert None not in routes, f"unnamed API routes cannot be checked: {[r for r, _ in routes[None]]}"
    found = set(routes) - NOT_DATA_ROUTES
    assert found, "the resolver walk found no API routes"
    missing = found - set(ROUTES)
    stale = set(ROUTES) - found
    assert not missing, f"API routes without an isolation rule in ROUTES: {sorted(missing)}"
    assert not stale, f"ROUTES lists routes that no longer exist: {sorted(stale)}"
    assert set(routes) >= NOT_DATA_ROUTES, "the schema/docs routes moved; update NOT_DATA_ROUTES"


@pytest.mark.parametrize("name", DATA_ROUTES)
def test_every_method_has_a_rule(name):
    rule = _rule(name)
    implemented = set().union(*(implemented_methods(pattern) for _, pattern in api_routes()[name]))
    assert {call.method for call in rule.calls} == implemented, f"{name}: rules for {implemented} needed"


@pytest.mark.parametrize("name", DATA_ROUTES)
def test_rule_paths_resolve_to_their_route(world, name):
    for call in _rule(name).calls:
        path = call.path(world).split("?")[0]
        assert resolve(path).url_name == name, f"{call.method.upper()} {path} is not {name}"


# --- the checks, route by route -------------------------------------------------------------


def _send(client: APIClient, call: Call, world: World):
    body = call.body(world) if call.body else None
    return getattr(client, call.method)(call.path(world), body)


def _assert_no_leak(response, world: World, echoed: frozenset[str] = frozenset(), what: str = "") -> None:
    text = response.content.decode()
    for name, value in world.markers(echoed=echoed).items():
        assert value not in text, f"{what} leaks {name}: {text[:500]}"


def _rule(name: str) -> Rule:
    if name not in ROUTES:
        pytest.fail(f"API route {name!r} has no isolation rule in ROUTES")
    return ROUTES[name]


def _refusal_carries_no_data(response) -> None:
    data = response.json()
    assert isinstance(data, dict) and set(data) <= {"detail"}, data


@pytest.mark.parametrize("name", DATA_ROUTES)
def test_anonymous_gets_nothing(world, name):
    before = {u.pk: snapshot(u) for u in (world.me, world.other, world.physio)}
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    for call in _rule(name).calls:
        response = _send(world.clients["anonymous"], call, world)
        assert response.status_code in call.anonymous, (call.method, call.path(world), response.content)
        if call.anonymous == DENIED:
            _refusal_carries_no_data(response)
            response = _send(bad_token, call, world)
            assert response.status_code == 401, (call.method, call.path(world), response.content)
            _refusal_carries_no_data(response)
        _assert_no_leak(response, world, call.echoed, f"{call.method.upper()} {call.path(world)}")
    assert {u.pk: snapshot(u) for u in (world.me, world.other, world.physio)} == before


@pytest.mark.parametrize("name", DATA_ROUTES)
def test_physiotherapist_on_patient_endpoints_is_forbidden(world, name):
    rule = _rule(name)
    before = {u.pk: snapshot(u) for u in (world.me, world.other)}
    for call in rule.calls:
        response = _send(world.clients["physio"], call, world)
        if rule.access == PATIENT:
            assert response.status_code == 403, (call.method, call.path(world), response.content)
            _refusal_carries_no_data(response)
        elif rule.access == PHYSIO:
            # world.physio was never linked to anyone.
            assert response.status_code in call.as_physio, (call.method, call.path(world), response.content)
            if response.status_code == 404:
                _refusal_carries_no_data(response)
        else:
            assert response.status_code not in DENIED, (call.method, call.path(world), response.content)
        _assert_no_leak(response, world, call.echoed, f"{call.method.upper()} {call.path(world)}")
    assert {u.pk: snapshot(u) for u in (world.me, world.other)} == before
    assert not Episode.objects.filter(patient=world.physio).exists()
    assert not CheckIn.objects.filter(patient=world.physio).exists()
    assert not AccessLog.objects.filter(actor=world.physio).exists()


@pytest.mark.parametrize("name", DATA_ROUTES)
def test_patient_cannot_reach_another_patients_data(world, name):
    before = snapshot(world.other)
    for call in _rule(name).calls:
        response = _send(world.clients["me"], call, world)
        assert response.status_code in call.as_patient, (call.method, call.path(world), response.content)
        _assert_no_leak(response, world, call.echoed, f"{call.method.upper()} {call.path(world)}")
    assert snapshot(world.other) == before


# --- lists ----------------------------------------------------------------------------------


def _walk_pages(client: APIClient, url: str) -> list[dict]:
    rows, seen = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        data = response.json()
        rows += data["results"]
        url = data["next"]
        seen += 1
        assert seen < 50
    return rows


@pytest.fixture
def crowd(world):
    """More patients with data, so a missing owner filter would show up in any list."""
    for _ in range(3):
        stranger = UserFactory()
        episode = EpisodeFactory(patient=stranger)
        CheckInFactory.create_batch(2, episode=episode)
        EpisodeFactory(
            patient=stranger,
            onset=timezone.now() - timedelta(days=5),
            status=Episode.Status.RESOLVED,
            resolved_at=timezone.now() - timedelta(days=4),
        )
    old = EpisodeFactory(
        patient=world.me,
        onset=timezone.now() - timedelta(days=10),
        status=Episode.Status.RESOLVED,
        resolved_at=timezone.now() - timedelta(days=9),
    )
    CheckInFactory(episode=old, occurred_at=old.onset + timedelta(hours=1))
    return world


@pytest.mark.parametrize("limit", [None, 1])
def test_episode_list_holds_only_my_episodes(crowd, limit):
    client = crowd.clients["me"]
    rows = _walk_pages(client, "/api/episodes/" + (f"?limit={limit}" if limit else ""))
    mine = {str(pk) for pk in Episode.objects.filter(patient=crowd.me).values_list("pk", flat=True)}
    assert {row["id"] for row in rows} == mine
    assert len(rows) == len(mine) == 2


@pytest.mark.parametrize("limit", [None, 1])
def test_checkin_list_holds_only_my_checkins(crowd, limit):
    client = crowd.clients["me"]
    rows = _walk_pages(client, "/api/checkins/" + (f"?limit={limit}" if limit else ""))
    mine = {str(u) for u in CheckIn.objects.filter(patient=crowd.me).values_list("client_uuid", flat=True)}
    assert {row["id"] for row in rows} == mine
    assert len(rows) == len(mine) == 2
    episodes = {str(pk) for pk in Episode.objects.filter(patient=crowd.me).values_list("pk", flat=True)}
    assert {row["episode"] for row in rows} <= episodes


def test_checkin_list_filtered_by_my_episode_holds_only_its_checkins(crowd):
    rows = _walk_pages(crowd.clients["me"], f"/api/checkins/?episode={crowd.my_episode.id}")
    assert [row["id"] for row in rows] == [str(crowd.my_checkin.client_uuid)]


def test_the_other_patient_sees_only_their_own_too(crowd):
    other = token_client(crowd.other)
    episodes = _walk_pages(other, "/api/episodes/")
    checkins = _walk_pages(other, "/api/checkins/")
    assert [row["id"] for row in episodes] == [str(crowd.other_episode.id)]
    assert [row["id"] for row in checkins] == [str(crowd.other_checkin.client_uuid)]


# --- 404 is the same for "not yours" and "does not exist" -----------------------------------

NO_ORACLE_CALLS = [
    ("get", "/api/episodes/{episode}/", None),
    ("post", "/api/episodes/{episode}/resolve/", {}),
    ("get", "/api/episodes/{episode}/daily/", None),
    ("get", "/api/checkins/?episode={episode}", None),
    ("get", "/api/checkins/{checkin}/", None),
    ("put", "/api/checkins/{fresh}/", {"pain": 3, "episode": "{episode}"}),
    ("get", "/api/episodes/{episode}/state/", None),
    ("get", "/api/episodes/{episode}/protocol/", None),
    ("get", "/api/applications/?episode={episode}", None),
    ("get", "/api/rest/?episode={episode}", None),
    ("get", "/api/medications/?episode={episode}", None),
    ("get", "/api/activities/?episode={episode}", None),
    ("put", "/api/applications/{fresh}/", {"kind": "ice", "episode": "{episode}"}),
    ("put", "/api/rest/{fresh}/", {"episode": "{episode}"}),
    ("put", "/api/medications/{fresh}/", {"med_class": "nsaid", "dose_mg": 400, "episode": "{episode}"}),
]


@pytest.mark.parametrize(("method", "template", "body"), NO_ORACLE_CALLS)
def test_another_patients_ids_look_exactly_like_unknown_ids(world, method, template, body):
    client = world.clients["me"]

    def call(episode, checkin):
        fill = {"episode": str(episode), "checkin": str(checkin), "fresh": str(uuid.uuid4())}
        data = {k: (v.format(**fill) if isinstance(v, str) else v) for k, v in body.items()} if body else body
        return getattr(client, method)(template.format(**fill), data)

    theirs = call(world.other_episode.id, world.other_checkin.client_uuid)
    unknown = call(uuid.uuid4(), uuid.uuid4())
    assert theirs.status_code == unknown.status_code
    assert theirs.status_code in {400, 404}
    assert theirs.json() == unknown.json()


# --- writes keyed by a client id ------------------------------------------------------------


def test_put_with_another_patients_checkin_id_creates_my_own_record(world):
    client = world.clients["me"]
    before = snapshot(world.other)
    url = f"/api/checkins/{world.other_checkin.client_uuid}/"
    response = client.put(url, {"pain": 3})
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"] == str(world.other_checkin.client_uuid)
    assert data["episode"] == str(world.my_episode.id)
    assert data["pain"] == 3
    assert data["note"] == ""
    assert data["escalation"] is None
    assert snapshot(world.other) == before

    mine = CheckIn.objects.get(patient=world.me, client_uuid=world.other_checkin.client_uuid)
    assert mine.pk != world.other_checkin.pk
    assert mine.episode == world.my_episode
    # Each of us reads back our own record under the shared id.
    assert client.get(url).json()["pain"] == 3
    theirs = token_client(world.other).get(url)
    assert theirs.status_code == 200
    assert theirs.json()["pain"] == 9
    assert theirs.json()["note"] == OTHER_CHECKIN_NOTE


def test_put_replaying_another_patients_exact_body_is_not_treated_as_a_replay(world):
    """The same id and the same body as the other's record: a replay answer (200) would confirm it exists."""
    client = world.clients["me"]
    flag = _first_flag_code()
    body = {"pain": 9, "note": OTHER_CHECKIN_NOTE, "stiffness": 8, "red_flags": {flag: True} if flag else {}}
    before = snapshot(world.other)
    response = client.put(f"/api/checkins/{world.other_checkin.client_uuid}/", body)
    assert response.status_code == 201, response.content
    assert response.json()["episode"] == str(world.my_episode.id)
    assert snapshot(world.other) == before
    assert RedFlagEvent.objects.filter(patient=world.me).count() == (1 if flag else 0)


def test_put_with_another_patients_checkin_id_and_no_episode_of_mine_is_refused(world):
    loner = UserFactory()
    client = token_client(loner)
    before = snapshot(world.other)
    response = client.put(f"/api/checkins/{world.other_checkin.client_uuid}/", {"pain": 3})
    assert response.status_code == 400, response.content
    assert "episode" in response.json()
    _assert_no_leak(response, world)
    assert not CheckIn.objects.filter(patient=loner).exists()
    assert snapshot(world.other) == before


def test_put_into_another_patients_episode_is_refused(world):
    client = world.clients["me"]
    before = snapshot(world.other)
    response = client.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 3, "episode": str(world.other_episode.id)})
    assert response.status_code == 400, response.content
    assert "episode" in response.json()
    assert CheckIn.objects.filter(patient=world.me).count() == 1
    assert CheckIn.objects.filter(episode=world.other_episode).count() == 1
    assert snapshot(world.other) == before


def test_opening_an_episode_with_another_patients_client_uuid_never_returns_theirs(world):
    Episode.objects.filter(pk=world.my_episode.pk).update(
        status=Episode.Status.RESOLVED, resolved_at=timezone.now() - timedelta(hours=1)
    )
    before = snapshot(world.other)
    body = {
        "onset": world.other_episode.onset.isoformat(),
        "trigger": world.other_episode.trigger,
        "notes": OTHER_EPISODE_NOTES,
        "client_uuid": str(world.other_episode.client_uuid),
    }
    response = world.clients["me"].post("/api/episodes/", body)
    assert response.status_code == 201, response.content  # a new episode of mine, not a replay of theirs
    assert response.json()["id"] != str(world.other_episode.id)
    assert Episode.objects.get(pk=response.json()["id"]).patient == world.me
    assert snapshot(world.other) == before


def test_resolving_another_patients_episode_leaves_it_open(world):
    response = world.clients["me"].post(f"/api/episodes/{world.other_episode.id}/resolve/", {})
    assert response.status_code == 404
    world.other_episode.refresh_from_db()
    assert world.other_episode.status == Episode.Status.OPEN
    assert world.other_episode.resolved_at is None
    world.my_episode.refresh_from_db()
    assert world.my_episode.status == Episode.Status.OPEN


# --- offline sync ---------------------------------------------------------------------------


def test_sync_with_another_patients_checkin_id_never_touches_or_reveals_theirs(world):
    client = world.clients["me"]
    before = snapshot(world.other)
    flag = _first_flag_code()
    items = [
        # The other's id with a new body, and with exactly their body: both become records of mine.
        {"kind": "checkin", "id": str(world.other_checkin.client_uuid), "data": {"pain": 3}},
        {
            "kind": "checkin",
            "id": str(world.other_checkin.client_uuid),
            "data": {"pain": 9, "note": OTHER_CHECKIN_NOTE, "stiffness": 8, "red_flags": {flag: True} if flag else {}},
        },
        # Into the other's episode: refused like an unknown episode.
        {"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": 3, "episode": str(world.other_episode.id)}},
        {"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": 3, "episode": str(uuid.uuid4())}},
    ]
    response = client.post("/api/sync/", {"items": items})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 409, 400, 400]
    assert results[0]["record"]["episode"] == str(world.my_episode.id)
    assert results[0]["record"]["pain"] == 3
    # The second item reuses the id I now own with a different body: a conflict with *my* record.
    assert "record" not in results[1]
    assert results[2]["errors"] == results[3]["errors"]
    assert "episode" in results[2]["errors"]
    _assert_no_leak(response, world, echoed=frozenset({"other_checkin_id"}))
    assert snapshot(world.other) == before
    assert CheckIn.objects.filter(patient=world.me, client_uuid=world.other_checkin.client_uuid).get().pain == 3


def test_sync_replaying_another_patients_exact_body_creates_my_own(world):
    flag = _first_flag_code()
    body = {"pain": 9, "note": OTHER_CHECKIN_NOTE, "stiffness": 8, "red_flags": {flag: True} if flag else {}}
    before = snapshot(world.other)
    response = world.clients["me"].post(
        "/api/sync/", {"items": [{"kind": "checkin", "id": str(world.other_checkin.client_uuid), "data": body}]}
    )
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    assert result["status"] == 201
    assert result["record"]["episode"] == str(world.my_episode.id)
    assert snapshot(world.other) == before


# --- ice and heat, rest, medication, walks --------------------------------------------------


@pytest.mark.parametrize("kind", ["applications", "rest", "medications", "activities"])
def test_put_with_another_patients_treatment_id_creates_my_own_record(world, kind):
    theirs = {
        "applications": world.other_application,
        "rest": world.other_rest,
        "medications": world.other_medication,
        "activities": world.other_activity,
    }[kind]
    body = {
        "applications": lambda: {"kind": "ice"},
        "rest": lambda: {"started_at": theirs.started_at.isoformat(), "stopped_at": theirs.stopped_at.isoformat()},
        "medications": lambda: {
            "med_class": "opioid",
            "dose_mg": 10,
            "name": OTHER_MEDICATION_NAME,
            "taken_at": theirs.taken_at.isoformat(),
        },
        "activities": lambda: {
            "kind": "walking",
            "started_at": theirs.started_at.isoformat(),
            "minutes": theirs.minutes,
            "pain_before": theirs.pain_before,
            "pain_after": theirs.pain_after,
        },
    }[kind]()
    client = world.clients["me"]
    before = snapshot(world.other)
    url = f"/api/{kind}/{theirs.client_uuid}/"
    response = client.put(url, body)
    assert response.status_code == 201, response.content  # not a replay (200) of theirs
    assert response.json()["episode"] == str(world.my_episode.id)
    assert snapshot(world.other) == before
    mine = type(theirs).objects.get(patient=world.me, client_uuid=theirs.client_uuid)
    assert mine.pk != theirs.pk and mine.episode == world.my_episode
    assert client.get(url).json()["episode"] == str(world.my_episode.id)
    assert token_client(world.other).get(url).json()["episode"] == str(world.other_episode.id)


@pytest.mark.parametrize("kind", ["applications", "rest"])
def test_stopping_another_patients_session_is_not_found_and_leaves_it_running(world, kind):
    theirs = world.other_application if kind == "applications" else world.other_rest
    if kind == "rest":
        RestPeriod.objects.filter(pk=theirs.pk).update(stopped_at=None)
    before = snapshot(world.other)
    response = world.clients["me"].post(f"/api/{kind}/{theirs.client_uuid}/stop/", {})
    assert response.status_code == 404
    _assert_no_leak(response, world)
    assert snapshot(world.other) == before
    assert type(theirs).objects.get(pk=theirs.pk).stopped_at is None


# --- physiotherapists: only their linked patients, only while linked ----------------------------

PHYSIO_ROUTES = sorted(name for name in DATA_ROUTES if ROUTES.get(name) and ROUTES[name].access == PHYSIO)


def test_every_physio_route_is_checked():
    assert {name for name in DATA_ROUTES if name.startswith("physio-")} == set(PHYSIO_ROUTES)


@pytest.mark.parametrize("who", ["physio", "revoked_physio", "discharged_physio"])
@pytest.mark.parametrize("name", PHYSIO_ROUTES)
def test_a_physiotherapist_not_linked_now_sees_nothing(world, name, who):
    before = snapshot(world.other)
    logged = AccessLog.objects.count()
    for call in _rule(name).calls:
        response = _send(world.clients[who], call, world)
        assert response.status_code in call.as_physio, (who, call.method, call.path(world), response.content)
        if response.status_code == 404:
            _refusal_carries_no_data(response)
        _assert_no_leak(response, world, call.echoed, f"{who}: {call.method.upper()} {call.path(world)}")
    assert snapshot(world.other) == before
    # Nothing of the other patient was shown, so nothing of theirs is in the log.
    assert not AccessLog.objects.filter(patient=world.other).exclude(request_id=OTHER_ACCESS_REQUEST).exists()
    assert AccessLog.objects.count() >= logged


@pytest.mark.parametrize("name", PHYSIO_ROUTES)
def test_the_linked_physiotherapist_gets_the_data(world, name):
    """The same calls do reach the patient for the physiotherapist they consented to: the 404s above are real."""
    for call in _rule(name).calls:
        if call.as_linked is None:
            continue
        response = _send(world.clients["linked_physio"], call, world)
        assert response.status_code in call.as_linked, (call.method, call.path(world), response.content)
    if name == "physio-triage":
        rows = world.clients["linked_physio"].get("/api/physio/patients/").json()["results"]
        assert [row["patient"]["display_name"] for row in rows] == [OTHER_NAME]


@pytest.mark.parametrize("name", PHYSIO_ROUTES)
def test_an_unlinked_patient_looks_exactly_like_one_that_does_not_exist(world, name):
    client = world.clients["revoked_physio"]
    for call in _rule(name).calls:
        if call.as_physio != NOT_FOUND or f"/{world.other.pk}/" not in call.path(world):
            continue  # an alert is named by its own id: tests/recovery/triage/test_alerts.py checks its 404s
        body = call.body(world) if call.body else None
        theirs = getattr(client, call.method)(call.path(world), body)
        missing = getattr(client, call.method)(call.path(world).replace(f"/{world.other.pk}/", "/999999999/"), body)
        assert (
            (theirs.status_code, theirs.json())
            == (missing.status_code, missing.json())
            == (404, {"detail": "No such patient."})
        )


def test_a_revoked_link_hides_the_patient_at_once(world):
    linked = world.clients["linked_physio"]
    assert linked.get(f"/api/physio/patients/{world.other.pk}/timeline/").status_code == 200
    response = token_client(world.other).post(f"/api/care/links/{world.other_link.id}/revoke/", {})
    assert response.status_code == 200
    for name in PHYSIO_ROUTES:
        for call in _rule(name).calls:
            response = _send(linked, call, world)
            assert response.status_code in call.as_physio, (call.method, call.path(world), response.content)
            _assert_no_leak(response, world, call.echoed, f"{call.method.upper()} {call.path(world)}")


def test_patient_side_care_lists_hold_only_mine(world):
    mine = CareLink.objects.create(patient=world.me, physiotherapist=world.physio, consented_at=timezone.now())
    rows = world.clients["me"].get("/api/care/links/").json()["results"]
    assert [row["id"] for row in rows] == [str(mine.id)]
    assert world.clients["me"].get("/api/care/access-log/").json()["results"] == []
    theirs = token_client(world.other).get("/api/care/access-log/").json()["results"]
    assert [row["request_id"] for row in theirs] == [OTHER_ACCESS_REQUEST] * 2  # the read and the discharge
