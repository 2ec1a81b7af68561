"""Every read of a patient's data by a physiotherapist is in the append-only access log, or is not answered."""

from unittest import mock

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from backcare.audit.admin import AccessLogAdmin
from backcare.audit.models import AccessLog, AppendOnlyError
from recovery.care.models import CareLink, CareNote
from tests.conftest import client_for
from tests.factories import CareLinkFactory, CheckInFactory, EpisodeFactory, UserFactory

pytestmark = pytest.mark.django_db

READS = {
    "": "patient.summary",
    "timeline/": "patient.timeline",
    "daily/": "patient.daily",
    "notes/": "patient.notes",
    "protocol/": "patient.protocol",
}


@pytest.fixture
def linked(patient, physio):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    episode = EpisodeFactory(patient=patient)
    CheckInFactory(episode=episode, pain=6, note="secret-checkin-note")
    return episode


@pytest.mark.parametrize(("suffix", "action"), READS.items())
def test_each_read_is_logged_in_the_same_request(linked, physio_api, physio, patient, suffix, action):
    response = physio_api.get(
        f"/api/physio/patients/{patient.pk}/{suffix}", HTTP_X_REQUEST_ID="req-0123456789", REMOTE_ADDR="127.0.0.4"
    )
    assert response.status_code == 200, response.content
    (row,) = AccessLog.objects.all()
    # The log is keyed by the server's own id (answered in X-Request-ID); the client's is kept beside it.
    assert (row.actor_id, row.patient_id, row.action, row.request_id, row.client_request_id) == (
        physio.pk,
        patient.pk,
        action,
        response["X-Request-ID"],
        "req-0123456789",
    )
    assert len(row.request_id) == 32 and row.request_id != "req-0123456789"
    assert row.client_address == "127.0.0.4"
    assert row.path == f"/api/physio/patients/{patient.pk}/{suffix}"
    assert row.actor_label == physio.display_name


def test_a_client_cannot_choose_the_request_id(linked, physio_api, patient):
    response = physio_api.get(f"/api/physio/patients/{patient.pk}/", HTTP_X_REQUEST_ID="bad id with spaces")
    generated = response["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32
    row = AccessLog.objects.get()
    assert (row.request_id, row.client_request_id) == (generated, "")  # an insane client id is not kept
    again = physio_api.get(f"/api/physio/patients/{patient.pk}/", HTTP_X_REQUEST_ID="req-0123456789")
    again_too = physio_api.get(f"/api/physio/patients/{patient.pk}/", HTTP_X_REQUEST_ID="req-0123456789")
    assert again["X-Request-ID"] != again_too["X-Request-ID"]  # a replayed client id names two requests apart


def test_the_access_log_takes_the_client_address_through_trusted_proxies(linked, physio_api, patient, settings):
    settings.BACKCARE_TRUSTED_PROXIES = "1"
    physio_api.get(f"/api/physio/patients/{patient.pk}/", HTTP_X_FORWARDED_FOR="127.9.9.9, 127.0.0.6")
    assert AccessLog.objects.get().client_address == "127.0.0.6"


def test_the_triage_queue_logs_each_patient_it_shows(physio, physio_api, patient):
    others = [UserFactory() for _ in range(3)]
    for person in [patient, *others]:
        CareLinkFactory(patient=person, physiotherapist=physio)
    CareLinkFactory()  # someone else's patient: neither shown nor logged
    response = physio_api.get("/api/physio/patients/?limit=2")
    assert response.status_code == 200
    shown = {row["patient"]["id"] for row in response.json()["results"]}
    assert len(shown) == 2
    assert set(AccessLog.objects.values_list("patient_id", flat=True)) == shown
    assert set(AccessLog.objects.values_list("action", flat=True)) == {"triage"}


def test_writes_that_answer_patient_data_are_logged(linked, physio_api, patient):
    assert physio_api.post(f"/api/physio/patients/{patient.pk}/notes/", {"text": "ok"}).status_code == 201
    assert physio_api.post(f"/api/physio/patients/{patient.pk}/reviewed/", {}).status_code == 200
    assert list(AccessLog.objects.order_by("id").values_list("action", flat=True)) == [
        "patient.note_written",
        "patient.reviewed",
    ]


def test_refused_reads_are_not_logged(physio_api, patient):
    assert physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/").status_code == 404
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize("suffix", [*READS, "?triage"])
def test_if_the_log_cannot_be_written_nothing_is_shown(linked, physio_api, patient, suffix):
    url = "/api/physio/patients/" if suffix == "?triage" else f"/api/physio/patients/{patient.pk}/{suffix}"
    with mock.patch.object(AccessLog.objects, "append_reads", side_effect=DatabaseError("disk full")):
        response = physio_api.get(url)
    assert response.status_code == 503
    assert set(response.json()) == {"detail"}
    assert "secret-checkin-note" not in response.content.decode()
    assert str(patient.email) not in response.content.decode()


@pytest.mark.parametrize("suffix", ["reviewed/", "discharge/"])
def test_if_the_log_cannot_be_written_a_review_or_discharge_is_not_kept(linked, physio_api, patient, suffix):
    with mock.patch.object(AccessLog.objects, "append_reads", side_effect=DatabaseError("disk full")):
        response = physio_api.post(f"/api/physio/patients/{patient.pk}/{suffix}", {})
    assert response.status_code == 503
    link = CareLink.objects.get(patient=patient)
    assert (link.status, link.last_reviewed_at) == (CareLink.Status.ACTIVE, None)


def test_if_the_log_cannot_be_written_a_note_is_not_kept(linked, physio_api, patient):
    with mock.patch.object(AccessLog.objects, "append_reads", side_effect=DatabaseError("disk full")):
        response = physio_api.post(f"/api/physio/patients/{patient.pk}/notes/", {"text": "lost"})
    assert response.status_code == 503
    assert not CareNote.objects.exists()


def test_the_patient_sees_who_viewed_their_data(linked, physio_api, physio, patient, patient_api):
    physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/")
    physio_api.get(f"/api/physio/patients/{patient.pk}/daily/")
    # Another patient's log is not mine.
    stranger = UserFactory()
    CareLinkFactory(patient=stranger, physiotherapist=physio)
    physio_api.get(f"/api/physio/patients/{stranger.pk}/")
    rows = patient_api.get("/api/care/access-log/").json()["results"]
    assert [(row["who"], row["action"]) for row in rows] == [
        (physio.display_name, "patient.daily"),
        (physio.display_name, "patient.timeline"),
    ]
    assert all(row["at"] and row["request_id"] for row in rows)
    assert client_for(stranger).get("/api/care/access-log/").json()["results"][0]["action"] == "patient.summary"
    assert physio_api.get("/api/care/access-log/").status_code == 403


def _row(patient, physio) -> AccessLog:
    return AccessLog.objects.create(
        at="2026-11-01T10:00:00Z",
        actor=physio,
        actor_label="x",
        patient=patient,
        action="patient.timeline",
        path="/",
        request_id="r",
    )


def test_the_log_refuses_changes_through_the_orm(patient, physio):
    row = _row(patient, physio)
    row.action = "nothing"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.filter(pk=row.pk).update(action="nothing")
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.filter(pk=row.pk).delete()
    assert AccessLog.objects.get(pk=row.pk).action == "patient.timeline"


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_accesslog SET action = 'x'", "DELETE FROM audit_accesslog"], ids=["update", "delete"]
)
def test_the_database_refuses_changes_from_any_client(patient, physio, statement):
    row = _row(patient, physio)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AccessLog.objects.get(pk=row.pk).action == "patient.timeline"


def test_the_log_outlives_a_deleted_account(patient, physio):
    _row(patient, physio)
    patient.delete()
    physio.delete()
    assert AccessLog.objects.count() == 1


def test_the_admin_is_read_only(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    model_admin = AccessLogAdmin(AccessLog, site)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_truncate_is_refused_on_the_access_log(physio, patient):
    AccessLog.objects.create(
        at=timezone.now(), actor=physio, actor_label="P", patient=patient, action="a", path="/", request_id="r"
    )
    name = connection.ops.quote_name(connection.settings_dict["NAME"])
    with (
        pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # As in any database but the test one (tests/conftest.py allows it there); a session's own SET does not help.
        cursor.execute(f"ALTER DATABASE {name} RESET backcare.allow_truncate")
        cursor.execute("SET LOCAL backcare.allow_truncate = 'on'")
        cursor.execute("TRUNCATE audit_accesslog")
    assert AccessLog.objects.count() == 1
