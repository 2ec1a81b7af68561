"""A patient deletes their account: password again, the exact phrase, everything of theirs gone in one
transaction, the access log kept."""

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from knox.models import AuthToken
from push_notifications.models import WebPushDevice
from rest_framework.test import APIClient

from backcare.accounts import deletion
from backcare.accounts.models import Profile, User
from backcare.accounts.signin_guard import SignInAttempt
from backcare.audit.models import AccessLog
from recovery.care.models import CareInvite, CareLink, CareNote, InviteAttempt
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.reminders.models import Delivery, Reminder
from recovery.treatment.models import Activity, Application, MedicationIntake, Prescription, RestPeriod
from tests.factories import PASSWORD, EpisodeFactory, PhysioFactory, UserFactory, history_create

pytestmark = pytest.mark.django_db

URL = "/api/me/delete/"
CONFIRM = "delete my account"
PER_PATIENT = (
    (Profile, "user"),
    (AuthToken, "user"),
    (WebPushDevice, "user"),
    (Episode, "patient"),
    (CheckIn, "patient"),
    (RedFlagEvent, "patient"),
    (Application, "patient"),
    (RestPeriod, "patient"),
    (MedicationIntake, "patient"),
    (Activity, "patient"),
    (Reminder, "patient"),
    (Prescription, "episode__patient"),
    (Delivery, "reminder__patient"),
    (CareLink, "patient"),
    (CareNote, "patient"),
    (InviteAttempt, "user"),
)


def _token_client(user: User) -> tuple[APIClient, str]:
    _, raw = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client, raw


def _counts(user: User) -> dict[str, int]:
    return {model.__name__: model.objects.filter(**{field: user}).count() for model, field in PER_PATIENT}


def _full_history(patient: User, physio: User) -> None:
    now = timezone.now()
    episode = EpisodeFactory(patient=patient, onset=now - timedelta(days=4))
    history_create(episode=episode, start=now - timedelta(days=3), days=3, author=physio)
    CareLink.objects.create(patient=patient, physiotherapist=physio, consented_at=now - timedelta(days=5))
    reminder = Reminder.objects.filter(patient=patient).first()
    device = WebPushDevice.objects.create(
        user=patient, registration_id=f"https://127.0.0.1:9/push/{uuid.uuid4()}", p256dh="x" * 87, auth="y" * 22
    )
    Delivery.objects.create(
        reminder=reminder, device_type="webpush", device_id=device.pk, status="sent", next_attempt_at=now
    )
    InviteAttempt.objects.create(user=patient, code_digest="0" * 64, at=now)
    AccessLog.objects.create(
        at=now,
        actor=physio,
        actor_label="Dr Kept",
        patient=patient,
        action="patient.timeline",
        path="/",
        request_id="a",
    )


@pytest.fixture
def physio(db):
    return PhysioFactory(display_name="Dr Kept")


@pytest.fixture
def leaving(physio):
    patient = UserFactory(with_profile="Europe/Berlin")
    _full_history(patient, physio)
    return patient


@pytest.fixture
def staying(physio):
    patient = UserFactory(with_profile="Asia/Tokyo")
    _full_history(patient, physio)
    return patient


def test_everything_of_the_patient_goes_and_the_access_log_stays(leaving, staying, physio):
    client, raw = _token_client(leaving)
    before = _counts(leaving)
    assert all(before.values()), before  # the history really has every kind of record
    others = _counts(staying)
    physio_before = (
        CareInvite.objects.filter(physiotherapist=physio).count(),
        User.objects.filter(pk=physio.pk).count(),
    )
    pk, email = leaving.pk, leaving.email

    response = client.post(URL, {"password": PASSWORD, "confirm": CONFIRM})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user_id"] == pk
    assert body["access_log_kept"] == 1
    assert body["removed"]["accounts.User"] == 1
    assert body["removed"]["recovery.CheckIn"] == before["CheckIn"]
    assert not User.objects.filter(pk=pk).exists()
    assert all(count == 0 for count in _counts(User(pk=pk)).values()), _counts(User(pk=pk))
    assert cache.get(f"signin:account:{SignInAttempt(email=email, address='').email_key()}:failures") is None
    # Nobody else lost anything: the other patient, the physiotherapist, their notes on others.
    assert _counts(staying) == others
    assert (CareInvite.objects.filter(physiotherapist=physio).count(), User.objects.filter(pk=physio.pk).count()) == (
        physio_before
    )
    # The access log is kept, as the law asks, and still says who read what.
    (kept,) = AccessLog.objects.filter(patient_id=pk)
    assert (kept.actor_label, kept.action) == ("Dr Kept", "patient.timeline")
    # The token died with the account; the address can sign up again.
    assert client.get("/api/me/").status_code == 401
    again = APIClient().post("/api/auth/register/", {"email": email, "password": PASSWORD})
    assert again.status_code == 201
    assert AccessLog.objects.filter(patient_id=again.json()["id"]).count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "wrong-password-123", "confirm": CONFIRM}, "password"),
        ({"password": PASSWORD, "confirm": "delete my acount"}, "confirm"),
        ({"password": PASSWORD, "confirm": "DELETE MY ACCOUNT"}, "confirm"),
        ({"password": PASSWORD}, "confirm"),
        ({"confirm": CONFIRM}, "password"),
        ({"password": PASSWORD, "confirm": CONFIRM, "user": 1}, "user"),
        ({"password": 123456, "confirm": CONFIRM}, "password"),
    ],
)
def test_nothing_is_deleted_without_the_password_and_the_exact_phrase(leaving, body, field):
    client, _ = _token_client(leaving)
    before = _counts(leaving)
    response = client.post(URL, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert _counts(leaving) == before


def test_wrong_passwords_are_delayed_like_sign_in(leaving, settings):
    client, _ = _token_client(leaving)
    for _ in range(settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_ACCOUNT + 1):
        assert client.post(URL, {"password": "nope-nope-1", "confirm": CONFIRM}).status_code == 400
    response = client.post(URL, {"password": "nope-nope-1", "confirm": CONFIRM})
    assert response.status_code == 429
    assert "Retry-After" in response
    # While the attempt must wait, even the right password does not delete anything.
    assert client.post(URL, {"password": PASSWORD, "confirm": CONFIRM}).status_code == 429
    assert User.objects.filter(pk=leaving.pk).exists()


def test_a_failure_midway_leaves_everything_in_place(leaving):
    before = _counts(leaving)
    with (
        # After the rows are deleted, inside the transaction.
        mock.patch.object(deletion, "Counter", side_effect=DatabaseError("disk full")),
        pytest.raises(DatabaseError),
    ):
        deletion.account_delete(user=leaving)
    assert User.objects.filter(pk=leaving.pk).exists()
    assert _counts(leaving) == before


def test_only_patients_delete_here_and_only_signed_in(physio, leaving):
    client, _ = _token_client(physio)
    assert client.post(URL, {"password": PASSWORD, "confirm": CONFIRM}).status_code == 403
    assert User.objects.filter(pk=physio.pk).exists()
    assert APIClient().post(URL, {"password": PASSWORD, "confirm": CONFIRM}).status_code == 401
    assert User.objects.filter(pk=leaving.pk).exists()


def test_deleting_a_patient_ends_the_physiotherapists_view_at_once(leaving, physio):
    physio_client, _ = _token_client(physio)
    assert physio_client.get(f"/api/physio/patients/{leaving.pk}/timeline/").status_code == 200
    client, _ = _token_client(leaving)
    assert client.post(URL, {"password": PASSWORD, "confirm": CONFIRM}).status_code == 200
    assert physio_client.get(f"/api/physio/patients/{leaving.pk}/timeline/").status_code == 404
    assert physio_client.get("/api/physio/patients/").json()["results"] == []
