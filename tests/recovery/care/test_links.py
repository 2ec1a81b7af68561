"""Invitations, consent, revoking and discharging; the attempt limits on redeeming."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from recovery.care.models import CareInvite, CareLink, InviteAttempt
from recovery.care.services import CODE_ALPHABET, INVITE_TTL, invite_code_digest
from recovery.episodes.models import Episode
from tests.conftest import client_for
from tests.factories import CareLinkFactory, EpisodeFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
PHYSIO_ENDPOINTS = ("", "timeline/", "daily/", "notes/", "protocol/")


def _invite(physio_api) -> dict:
    response = physio_api.post("/api/physio/invites/", {})
    assert response.status_code == 201, response.content
    return response.json()


def _can_read(api, patient) -> bool:
    """Whether every physiotherapist read of the patient answers 200 (True) or every one answers 404 (False)."""
    if not Episode.objects.filter(patient=patient).exists():
        EpisodeFactory(patient=patient)  # the protocol page needs one
    statuses = {api.get(f"/api/physio/patients/{patient.pk}/{suffix}").status_code for suffix in PHYSIO_ENDPOINTS}
    assert len(statuses) == 1, statuses
    assert statuses <= {200, 404}
    return statuses == {200}


def test_an_invitation_is_a_short_unambiguous_code_stored_only_as_a_keyed_hash(physio_api, physio):
    with time_machine.travel(NOW, tick=False):
        body = _invite(physio_api)
        listed = physio_api.get("/api/physio/invites/").json()["results"]
    code = body["code"]
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
    assert not set(code.replace("-", "")) - set(CODE_ALPHABET)
    assert not set(code) & set("01OIL")
    invite = CareInvite.objects.get(pk=body["id"])
    assert invite.physiotherapist == physio
    assert invite.expires_at - invite.created_at == INVITE_TTL == timedelta(days=7)
    assert invite.code_digest == invite_code_digest(code)
    assert code not in str(CareInvite.objects.filter(pk=invite.pk).values().get())
    # The list shows outstanding invitations, never their codes.
    assert [row["id"] for row in listed] == [body["id"]]
    assert code not in str(listed)


def test_redeeming_links_the_patient_from_that_instant(physio_api, physio, patient_api, patient):
    with time_machine.travel(NOW, tick=False):
        code = _invite(physio_api)["code"]
    assert not _can_read(physio_api, patient)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        response = patient_api.post("/api/care/redeem/", {"code": code})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["physiotherapist"] == {"display_name": physio.display_name}
    link = CareLink.objects.get(pk=body["id"])
    assert (link.patient, link.physiotherapist, link.consented_at) == (patient, physio, NOW + timedelta(days=1))
    invite = link.invite
    assert invite.used_by == patient and invite.used_at == NOW + timedelta(days=1)
    assert _can_read(physio_api, patient)
    # The patient sees who can read their data.
    links = patient_api.get("/api/care/links/").json()["results"]
    assert [(row["id"], row["status"]) for row in links] == [(str(link.pk), "active")]


@pytest.mark.parametrize("typed", ["{code}", "{lower}", " {plain} ", "{spaced}"])
def test_codes_are_case_and_dash_insensitive(physio_api, patient_api, typed):
    code = _invite(physio_api)["code"]
    plain = code.replace("-", "")
    entry = typed.format(code=code, lower=code.lower(), plain=plain, spaced=f"{plain[:5]} {plain[5:]}")
    assert patient_api.post("/api/care/redeem/", {"code": entry}).status_code == 201


def test_a_wrong_code_says_it_is_wrong(patient_api, patient):
    response = patient_api.post("/api/care/redeem/", {"code": "ABCDE-FGHJK"})
    assert response.status_code == 400
    assert response.json()["reason"] == "invalid"
    assert "code" in response.json()
    assert not CareLink.objects.filter(patient=patient).exists()


def test_a_used_code_says_it_was_used(physio_api, patient_api):
    code = _invite(physio_api)["code"]
    assert patient_api.post("/api/care/redeem/", {"code": code}).status_code == 201
    second = client_for(UserFactory())
    response = second.post("/api/care/redeem/", {"code": code})
    assert response.status_code == 409
    assert response.json()["reason"] == "used"
    assert CareLink.objects.count() == 1


def test_an_expired_code_says_it_expired(physio_api, patient_api, patient):
    with time_machine.travel(NOW, tick=False):
        code = _invite(physio_api)["code"]
    with time_machine.travel(NOW + timedelta(days=7, seconds=1), tick=False):
        response = patient_api.post("/api/care/redeem/", {"code": code})
    assert response.status_code == 410
    assert response.json()["reason"] == "expired"
    assert not CareLink.objects.filter(patient=patient).exists()
    with time_machine.travel(NOW + timedelta(days=6, hours=23), tick=False):
        assert patient_api.post("/api/care/redeem/", {"code": code}).status_code == 201


def test_a_second_code_of_a_physiotherapist_already_linked_is_refused_and_stays_unused(physio_api, patient_api):
    first, second = _invite(physio_api)["code"], _invite(physio_api)["code"]
    assert patient_api.post("/api/care/redeem/", {"code": first}).status_code == 201
    response = patient_api.post("/api/care/redeem/", {"code": second})
    assert response.status_code == 409
    assert response.json()["reason"] == "already_linked"
    assert CareInvite.objects.filter(used_at__isnull=True).count() == 1


@override_settings(BACKCARE_INVITE_ATTEMPTS_PER_USER=3, BACKCARE_INVITE_ATTEMPTS_PER_CODE=100)
def test_redeeming_is_limited_per_user(physio_api, patient_api):
    with time_machine.travel(NOW, tick=False):
        good = _invite(physio_api)["code"]
        for _ in range(3):
            assert patient_api.post("/api/care/redeem/", {"code": "ABCDE-FGHJK"}).status_code == 400
        response = patient_api.post("/api/care/redeem/", {"code": good})
        assert response.status_code == 429
        wait = int(response["Retry-After"])
        assert wait > 0
        assert response.json() == {
            "detail": f"Too many attempts to redeem an invitation code. Expected available in {wait} seconds."
        }
        # Another patient is not held up.
        assert client_for(UserFactory()).post("/api/care/redeem/", {"code": "ABCDE-FGHJK"}).status_code == 400
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        assert patient_api.post("/api/care/redeem/", {"code": good}).status_code == 201


@override_settings(BACKCARE_INVITE_ATTEMPTS_PER_USER=100, BACKCARE_INVITE_ATTEMPTS_PER_CODE=3)
def test_redeeming_is_limited_per_code_across_users():
    target = "QRSTU-VWXYZ"
    with time_machine.travel(NOW, tick=False):
        for _ in range(3):
            assert client_for(UserFactory()).post("/api/care/redeem/", {"code": target}).status_code == 400
        # Spelled differently, it is the same code.
        response = client_for(UserFactory()).post("/api/care/redeem/", {"code": target.lower().replace("-", "")})
        assert response.status_code == 429
        assert client_for(UserFactory()).post("/api/care/redeem/", {"code": "ABCDE-FGHJK"}).status_code == 400
    assert InviteAttempt.objects.filter(code_digest=invite_code_digest(target)).count() == 3


def test_physiotherapists_cannot_redeem_and_patients_cannot_invite(physio_api, patient_api):
    assert physio_api.post("/api/care/redeem/", {"code": "ABCDE-FGHJK"}).status_code == 403
    assert patient_api.post("/api/physio/invites/", {}).status_code == 403
    assert patient_api.get("/api/physio/patients/").status_code == 403


@pytest.mark.parametrize("field", ["patient", "physiotherapist", "role", "status", "consented_at"])
def test_nobody_can_set_who_or_what_a_link_is(physio_api, patient_api, patient, field):
    code = _invite(physio_api)["code"]
    response = patient_api.post("/api/care/redeem/", {"code": code, field: 1})
    assert response.status_code == 400
    assert field in response.json()
    assert not CareLink.objects.filter(patient=patient).exists()
    assert physio_api.post("/api/physio/invites/", {field: 1}).status_code == 400


def test_revoking_hides_everything_at_once(physio_api, physio, patient_api, patient):
    link = CareLinkFactory(patient=patient, physiotherapist=physio)
    EpisodeFactory(patient=patient)
    assert _can_read(physio_api, patient)
    response = patient_api.post(f"/api/care/links/{link.pk}/revoke/", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert response.json()["ended_at"] is not None
    assert not _can_read(physio_api, patient)
    assert physio_api.get("/api/physio/patients/").json()["results"] == []
    for action in ("reviewed", "discharge"):
        assert physio_api.post(f"/api/physio/patients/{patient.pk}/{action}/", {}).status_code == 404
    assert physio_api.post(f"/api/physio/patients/{patient.pk}/notes/", {"text": "x"}).status_code == 404
    # Revoking again changes nothing.
    again = patient_api.post(f"/api/care/links/{link.pk}/revoke/", {})
    assert again.status_code == 200 and again.json()["ended_at"] == response.json()["ended_at"]
    assert patient_api.get("/api/care/links/?status=active").json()["results"] == []
    assert len(patient_api.get("/api/care/links/?status=revoked").json()["results"]) == 1


def test_a_patient_cannot_revoke_someone_elses_link(patient_api, physio):
    theirs = CareLinkFactory(physiotherapist=physio)
    assert patient_api.post(f"/api/care/links/{theirs.pk}/revoke/", {}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == CareLink.Status.ACTIVE


def test_discharging_hides_the_patient_and_a_new_invitation_links_again(physio_api, physio, patient_api, patient):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    response = physio_api.post(f"/api/physio/patients/{patient.pk}/discharge/", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "discharged"
    assert not _can_read(physio_api, patient)
    statuses = [row["status"] for row in patient_api.get("/api/care/links/").json()["results"]]
    assert statuses == ["discharged"]
    code = _invite(physio_api)["code"]
    assert patient_api.post("/api/care/redeem/", {"code": code}).status_code == 201
    assert _can_read(physio_api, patient)


def test_visibility_is_per_physiotherapist(physio_api, physio, patient, other_physio_api):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    assert _can_read(physio_api, patient)
    assert not _can_read(other_physio_api, patient)


def test_an_inactive_physiotherapists_code_is_wrong(physio_api, physio, patient_api):
    code = _invite(physio_api)["code"]
    physio.is_active = False
    physio.save()
    assert patient_api.post("/api/care/redeem/", {"code": code}).json()["reason"] == "invalid"


def test_too_many_unused_invitations_are_refused(physio_api, physio):
    from recovery.care.services import MAX_OUTSTANDING_INVITES

    for _ in range(MAX_OUTSTANDING_INVITES):
        _invite(physio_api)
    assert physio_api.post("/api/physio/invites/", {}).status_code == 409
