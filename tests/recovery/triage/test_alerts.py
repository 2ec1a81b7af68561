"""Red-flag alerts to the care team: raised with their rounds planned up front, acknowledged once, listed at the
top of the physiotherapist's queue; only for linked physiotherapists (isolation), audited."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from backcare.audit.models import AccessLog
from recovery.care.models import CareLink
from recovery.reminders.models import Reminder
from recovery.reminders.payloads import reminder_payload, reminder_urgency
from recovery.reminders.planning import reminders_reconcile
from recovery.triage.models import ClinicianAlert
from tests.conftest import client_for
from tests.factories import CareLinkFactory, EpisodeFactory, PhysioFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team(clock, patient):
    """Two active physiotherapists, one the patient revoked, one who never linked."""
    first, second = PhysioFactory(display_name="Dr First"), PhysioFactory(display_name="Dr Second")
    revoked, stranger = PhysioFactory(), PhysioFactory()
    for physio in (first, second, revoked):
        CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=NOW - timedelta(days=3))
    CareLink.objects.filter(physiotherapist=revoked).update(status="revoked", ended_at=NOW - timedelta(days=1))
    return {"first": first, "second": second, "revoked": revoked, "stranger": stranger}


@pytest.fixture
def episode(patient):
    return EpisodeFactory(patient=patient, onset=NOW - timedelta(hours=5))


def checkin(api, **red_flags):
    response = api.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 8, "red_flags": red_flags}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def alert_rows(alert):
    return Reminder.objects.filter(kind="clinician_alert", slot__startswith=f"alert:{alert.pk}:")


def test_an_emergency_alerts_every_active_physiotherapist_every_5_minutes_for_an_hour(
    team, episode, patient_api, patient
):
    checkin(patient_api, bowel_bladder_loss=True, fever=True)

    alert = ClinicianAlert.objects.get()
    assert (alert.severity, alert.redflag_event.code, alert.raised_at) == ("emergency", "bowel_bladder_loss", NOW)
    rows = list(alert_rows(alert).order_by("recipient_id", "due_at"))
    assert {r.recipient_id for r in rows} == {team["first"].pk, team["second"].pk}
    for physio in (team["first"], team["second"]):
        mine = [r for r in rows if r.recipient_id == physio.pk]
        assert [r.due_at for r in mine] == [NOW + timedelta(minutes=5 * n) for n in range(12)]
        assert [r.slot for r in mine] == [f"alert:{alert.pk}:{physio.pk}:{n}" for n in range(12)]
    assert all(r.patient_id == patient.pk and r.episode_id == episode.pk and not r.safety for r in rows)


def test_an_urgent_answer_alerts_once(team, episode, patient_api):
    checkin(patient_api, fever=True)
    alert = ClinicianAlert.objects.get()
    assert alert.severity == "urgent"
    assert sorted(alert_rows(alert).values_list("recipient_id", "due_at")) == sorted(
        [(team["first"].pk, NOW), (team["second"].pk, NOW)]
    )


def test_a_soon_answer_or_none_alerts_nobody(team, episode, patient_api):
    checkin(patient_api, pain_worse_or_spreading=True)
    checkin(patient_api)
    assert not ClinicianAlert.objects.exists()
    assert not Reminder.objects.filter(recipient__isnull=False).exists()


def test_the_push_names_no_symptom_and_is_high_urgency(team, episode, patient_api):
    checkin(patient_api, saddle_numbness=True)
    row = alert_rows(ClinicianAlert.objects.get()).first()
    payload = reminder_payload(row)
    assert payload["title"] == "A patient needs your attention now"
    text = f"{payload['title']} {payload['body']}".lower()
    for word in ("numb", "saddle", "bladder", "bowel", "emergency", "leg"):
        assert word not in text
    assert payload["kind"] == "clinician_alert" and payload["url"] == "/#/alerts" and payload["actions"] == []
    assert reminder_urgency(row) == "high"


def test_the_patient_neither_sees_nor_answers_the_alert_pushes(team, episode, patient_api):
    checkin(patient_api, bowel_bladder_loss=True)
    kinds = {r["kind"] for r in patient_api.get("/api/reminders/?limit=200").json()["results"]}
    assert "clinician_alert" not in kinds
    row = Reminder.objects.filter(kind="clinician_alert").first()
    response = patient_api.post(f"/api/reminders/{row.pk}/ack/", {"action": "done"}, format="json")
    assert response.status_code == 404


def test_replanning_the_episode_leaves_the_alert_pushes_alone(team, episode, patient_api):
    checkin(patient_api, bowel_bladder_loss=True)
    with transaction.atomic():
        reminders_reconcile(episode=episode, now=NOW + timedelta(minutes=1))
    assert Reminder.objects.filter(kind="clinician_alert", status="scheduled").count() == 24


def test_acknowledge_stops_the_rounds_for_everyone_and_says_who(team, episode, patient_api, patient, clock):
    checkin(patient_api, bowel_bladder_loss=True)
    alert = ClinicianAlert.objects.get()
    alert_rows(alert).filter(due_at=NOW).update(status="sent", sent_at=NOW)  # the first round went out
    clock.move_to(NOW + timedelta(minutes=7))

    response = client_for(team["second"]).post(f"/api/physio/alerts/{alert.pk}/acknowledge/", {}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["acknowledged_by"], body["acknowledged_at"]) == ("Dr Second", "2026-11-23T10:07:00Z")
    statuses = dict(alert_rows(alert).values_list("slot", "status"))
    assert {s for slot, s in statuses.items() if slot.endswith(":0")} == {"sent"}
    assert {s for slot, s in statuses.items() if not slot.endswith(":0")} == {"cancelled"}
    log = AccessLog.objects.get(action="patient.alert_acknowledged")
    assert (log.actor_id, log.patient_id) == (team["second"].pk, patient.pk)
    # The first physiotherapist, later: the alert is answered as it is, with who took it on.
    clock.move_to(NOW + timedelta(minutes=9))
    again = client_for(team["first"]).post(f"/api/physio/alerts/{alert.pk}/acknowledge/", {}, format="json")
    assert again.status_code == 200 and again.json()["acknowledged_by"] == "Dr Second"


def test_acknowledge_isolation(team, episode, patient_api, patient):
    checkin(patient_api, bowel_bladder_loss=True)
    alert = ClinicianAlert.objects.get()
    url = f"/api/physio/alerts/{alert.pk}/acknowledge/"
    assert client_for(team["stranger"]).post(url, {}, format="json").status_code == 404
    assert client_for(team["revoked"]).post(url, {}, format="json").status_code == 404
    assert patient_api.post(url, {}, format="json").status_code == 403
    assert client_for(UserFactory()).post(url, {}, format="json").status_code == 403
    assert client_for(None).post(url, {}, format="json").status_code in (401, 403)
    assert (
        client_for(team["first"]).post("/api/physio/alerts/999999/acknowledge/", {}, format="json").status_code == 404
    )
    assert client_for(team["first"]).post(url, {"x": 1}, format="json").status_code == 400
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert Reminder.objects.filter(kind="clinician_alert", status="scheduled").count() == 24


def test_the_alert_list_shows_open_alerts_first_then_who_acknowledged(team, episode, patient_api, patient, clock):
    other = UserFactory(display_name="Other Patient")
    CareLinkFactory(patient=other, physiotherapist=team["first"], consented_at=NOW - timedelta(days=1))
    EpisodeFactory(patient=other, onset=NOW - timedelta(hours=2))
    checkin(client_for(other), fever=True)
    clock.move_to(NOW + timedelta(minutes=1))
    checkin(patient_api, bowel_bladder_loss=True)
    first_api = client_for(team["first"])

    rows = first_api.get("/api/physio/alerts/").json()
    assert [(r["patient_name"], r["severity"], r["acknowledged_by"]) for r in rows] == [
        (patient.display_name, "emergency", None),
        ("Other Patient", "urgent", None),
    ]
    assert rows[0]["code"] == "bowel_bladder_loss"
    assert set(AccessLog.objects.filter(action="alerts").values_list("patient_id", flat=True)) == {patient.pk, other.pk}
    assert first_api.post(f"/api/physio/alerts/{rows[0]['id']}/acknowledge/", {}, format="json").status_code == 200
    rows = first_api.get("/api/physio/alerts/").json()
    assert [(r["severity"], r["acknowledged_by"]) for r in rows] == [("urgent", None), ("emergency", "Dr First")]
    # The second sees only their own patient's; the revoked and the stranger see nothing; patients may not look.
    assert [r["patient_name"] for r in client_for(team["second"]).get("/api/physio/alerts/").json()] == [
        patient.display_name
    ]
    assert client_for(team["revoked"]).get("/api/physio/alerts/").json() == []
    assert client_for(team["stranger"]).get("/api/physio/alerts/").json() == []
    assert patient_api.get("/api/physio/alerts/").status_code == 403


def test_alerts_and_acknowledgements_are_on_the_timeline(team, episode, patient_api, patient, clock):
    checkin(patient_api, bowel_bladder_loss=True)
    alert = ClinicianAlert.objects.get()
    clock.move_to(NOW + timedelta(minutes=3))
    client_for(team["first"]).post(f"/api/physio/alerts/{alert.pk}/acknowledge/", {}, format="json")
    clock.move_to(NOW + timedelta(hours=2, minutes=30))
    assert patient_api.post(f"/api/episodes/{episode.pk}/resume/", {}, format="json").status_code == 200

    url = f"/api/physio/patients/{patient.pk}/timeline/?kinds=alert,alert_ack,pause,resume"
    rows = client_for(team["first"]).get(url).json()["results"]
    assert [(r["kind"], r["at"]) for r in rows] == [
        ("resume", "2026-11-23T12:30:00Z"),
        ("alert_ack", "2026-11-23T10:03:00Z"),
        ("pause", "2026-11-23T10:00:00Z"),
        ("alert", "2026-11-23T10:00:00Z"),
    ]
    assert rows[1]["data"]["author"] == "Dr First" and rows[3]["data"]["level"] == "emergency"
    assert rows[0]["data"]["reason"] == "resumed" and rows[2]["ends_at"] == "2026-11-23T12:30:00Z"


def test_an_alert_of_an_unlinked_patient_looks_exactly_like_one_that_does_not_exist(team, episode, patient_api):
    checkin(patient_api, bowel_bladder_loss=True)
    alert = ClinicianAlert.objects.get()
    for who in ("stranger", "revoked"):
        client = client_for(team[who])
        theirs = client.post(f"/api/physio/alerts/{alert.pk}/acknowledge/", {}, format="json")
        missing = client.post(f"/api/physio/alerts/{alert.pk + 1000}/acknowledge/", {}, format="json")
        assert (
            (theirs.status_code, theirs.json())
            == (missing.status_code, missing.json())
            == (
                404,
                {"detail": "No such alert."},
            )
        )


def test_an_emergency_checkin_costs_the_same_queries_whatever_the_team_size(clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (1, 2, 6):  # the first warms what is cached per process (the checklist)
        patient = UserFactory()
        EpisodeFactory(patient=patient, onset=NOW - timedelta(hours=5))
        for _ in range(size):
            CareLinkFactory(patient=patient, physiotherapist=PhysioFactory(), consented_at=NOW - timedelta(days=1))
        api = client_for(patient)
        with CaptureQueriesContext(connection) as queries:
            checkin(api, bowel_bladder_loss=True)
        counts.append(len(queries))
        assert Reminder.objects.filter(patient=patient, kind="clinician_alert").count() == 12 * size
    assert counts[1] == counts[2] <= 30, counts


def test_a_link_that_ends_takes_its_alert_pushes_with_it(team, episode, patient_api, patient, clock):
    checkin(patient_api, bowel_bladder_loss=True)
    clock.move_to(NOW + timedelta(minutes=6))
    link = CareLink.objects.get(physiotherapist=team["first"], status="active")
    assert patient_api.post(f"/api/care/links/{link.pk}/revoke/", {}, format="json").status_code == 200
    first = Reminder.objects.filter(kind="clinician_alert", recipient=team["first"])
    assert set(first.values_list("status", flat=True)) == {"cancelled"}
    second = Reminder.objects.filter(kind="clinician_alert", recipient=team["second"])
    assert set(second.values_list("status", flat=True)) == {"scheduled"}
