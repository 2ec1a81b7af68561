"""The library API: filters, search, detail, guidance for the patient now, ETag and 304."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from content.models import ItemKind, LibraryItem, Phase
from content.selectors import library_guidance
from content.services import library_item_save
from tests.conftest import client_for
from tests.factories import EpisodeFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]

ONSET = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


# --- list, filters, detail --------------------------------------------------------------------


def test_the_list_holds_every_published_item_explainer_first(patient_api):
    response = patient_api.get("/api/library/")
    data = response.json()
    assert data["count"] == len(data["results"]) == 25
    assert data["results"][0]["slug"] == "protocol"
    item = next(i for i in data["results"] if i["slug"] == "applying-ice-safely")
    assert item["kind"] == "article" and item["language"] == "en"
    assert item["phase_from"] == item["phase_until"] == "acute"
    assert "<h2>" in item["html"] and item["references"] and item["reviewed"] == "2026-11-22"
    assert item["exercise"] is None and "safety" in item["tags"]


def test_filter_by_kind_gives_exercises_with_their_details(patient_api):
    response = patient_api.get("/api/library/?kind=exercise")
    results = response.json()["results"]
    assert len(results) == 8
    for item in results:
        assert item["exercise"]["steps"] and item["exercise"]["stop_if"] and item["exercise"]["avoid"]
        assert item["exercise"]["repetitions"] >= 1


def test_filter_by_tag(patient_api):
    assert set(slugs(patient_api.get("/api/library/?tag=ice"))) == {
        "protocol",
        "ice-then-heat",
        "applying-ice-safely",
    }
    assert slugs(patient_api.get("/api/library/?tag=no-such-tag")) == []


def test_filter_by_phase(patient_api):
    acute = set(slugs(patient_api.get("/api/library/?phase=acute")))
    heat = set(slugs(patient_api.get("/api/library/?phase=heat")))
    later = set(slugs(patient_api.get("/api/library/?phase=recovery&kind=exercise")))
    assert {"applying-ice-safely", "lying-with-knees-supported", "first-days-what-to-avoid"} <= acute
    assert not {"cat-stretch", "moist-heat-after-72-hours", "bridges"} & acute
    assert {"cat-stretch", "knee-rolls", "moist-heat-after-72-hours"} <= heat
    assert not {"applying-ice-safely", "bridges", "bird-dog"} & heat
    assert {"bridges", "bird-dog", "cat-stretch"} <= later


@pytest.mark.parametrize(
    "query",
    ["kind=poem", "phase=later", "tag=", "tag=not a slug", "language=xx", "kind=", f"q={'x' * 201}", "q=a%00b"],
)
def test_bad_filters_are_400_naming_the_field(patient_api, query):
    response = patient_api.get(f"/api/library/?{query}")
    assert response.status_code == 400, response.content
    assert query.split("=")[0] in response.json()


def test_full_text_search_ranks_and_stems(patient_api):
    assert connection.vendor == "postgresql"
    results = slugs(patient_api.get("/api/library/?q=lifting"))
    assert results[0] == "lifting-technique"  # in the title: ranked first; "lift" in others matches too
    assert "first-days-what-to-avoid" in results
    assert slugs(patient_api.get("/api/library/?q=frozen peas")) == ["applying-ice-safely"]
    assert slugs(patient_api.get('/api/library/?q="hot tub"')) == ["moist-heat-after-72-hours"]
    # Steps, stop rules and what to avoid are searched too (the towel is in the cat stretch's advice).
    assert slugs(patient_api.get("/api/library/?q=towel&kind=exercise")) == ["cat-stretch"]
    assert slugs(patient_api.get("/api/library/?q=xylophone")) == []


def test_search_falls_back_to_icontains_off_postgresql(patient_api, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert slugs(patient_api.get("/api/library/?q=frozen peas")) == ["applying-ice-safely"]
    assert "lifting-technique" in slugs(patient_api.get("/api/library/?q=LIFT"))


def test_detail(patient_api):
    response = patient_api.get("/api/library/cat-stretch/")
    assert response.status_code == 200
    data = response.json()
    assert data["title"] == "Cat stretch" and data["phase_from"] == "heat"
    assert data["exercise"]["hold_seconds"] == 5 and len(data["exercise"]["steps"]) == 5


def test_unknown_and_unpublished_items_are_404(patient_api):
    assert patient_api.get("/api/library/no-such-item/").status_code == 404
    LibraryItem.objects.filter(slug="cat-stretch").update(published=False)
    assert patient_api.get("/api/library/cat-stretch/").status_code == 404
    assert "cat-stretch" not in slugs(patient_api.get("/api/library/"))


def test_physiotherapists_read_the_library_and_anonymous_callers_do_not(physio_api, api):
    assert physio_api.get("/api/library/").status_code == 200
    assert physio_api.get("/api/library/bridges/").status_code == 200
    assert physio_api.get("/api/library/red-flags/").status_code == 200
    assert physio_api.get("/api/library/for-me/").status_code == 403
    for path in ("/api/library/", "/api/library/bridges/", "/api/library/for-me/", "/api/library/red-flags/"):
        assert api.get(path).status_code == 401


def test_the_checklist_endpoint(patient_api):
    data = patient_api.get("/api/library/red-flags/").json()
    assert data["version"] >= 1 and len(data["rules"]) == 8
    assert data["rules"][0]["code"] == "bowel_bladder_loss" and data["rules"][0]["level"] == "emergency"
    assert data["levels"]["emergency"]["headline"] == "Get emergency help now"


# --- ETag, Cache-Control, 304 -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/library/", "/api/library/?phase=heat&q=stretch", "/api/library/bridges/", "/api/library/red-flags/"]
)
def test_conditional_get_answers_304_with_no_body(patient_api, path):
    first = patient_api.get(path)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"') and first["Cache-Control"] == "private, max-age=86400"
    again = patient_api.get(path, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and again["Cache-Control"] == first["Cache-Control"]
    assert patient_api.get(path, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304  # weak comparison
    assert patient_api.get(path, HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304
    assert patient_api.get(path, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_an_edited_item_gets_a_new_etag(patient_api):
    first = patient_api.get("/api/library/bridges/")
    listing = patient_api.get("/api/library/")
    item = LibraryItem.objects.get(slug="bridges")
    item.summary = "Stronger buttocks, kinder back."
    library_item_save(item=item, changed=True)
    after = patient_api.get("/api/library/bridges/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200 and after.json()["summary"] == "Stronger buttocks, kinder back."
    assert after.json()["version"] == first.json()["version"] + 1
    assert patient_api.get("/api/library/", HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 200


def test_filters_have_their_own_etags(patient_api):
    assert patient_api.get("/api/library/?kind=article")["ETag"] != patient_api.get("/api/library/")["ETag"]


# --- guidance for me now ------------------------------------------------------------------------


@pytest.fixture
def episode(patient):
    return EpisodeFactory(patient=patient, onset=ONSET)


def for_me(client, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/api/library/for-me/?{query}")
    assert response.status_code == 200, response.content
    data = response.json()
    data["slugs"] = [item["slug"] for item in data["items"]]
    data["not_yet_slugs"] = [item["slug"] for item in data["not_yet"]]
    return data


def test_guidance_follows_the_72_hour_boundary(patient_api, episode):
    with time_machine.travel(ONSET + timedelta(hours=71, minutes=59), tick=False):
        before = for_me(patient_api)
    with time_machine.travel(ONSET + timedelta(hours=72, minutes=1), tick=False):
        after = for_me(patient_api)

    assert (before["phase"], before["day"], before["episode"]) == ("acute", 4, str(episode.id))
    assert before["acute_ends_at"] == "2026-11-23T08:00:00Z"
    assert before["slugs"][0] == "protocol"
    assert {"applying-ice-safely", "first-days-what-to-avoid", "lying-with-knees-supported"} <= set(before["slugs"])
    assert not {"cat-stretch", "moist-heat-after-72-hours", "bridges"} & set(before["slugs"])
    assert {"cat-stretch", "knee-rolls", "pelvic-tilts", "bridges", "bird-dog"} <= set(before["not_yet_slugs"])

    assert after["phase"] == "heat"
    assert {"moist-heat-after-72-hours", "cat-stretch", "knee-rolls", "pelvic-tilts"} <= set(after["slugs"])
    assert not {"applying-ice-safely", "first-days-what-to-avoid", "bridges"} & set(after["slugs"])
    assert set(after["not_yet_slugs"]) == {"bridges", "bird-dog"}


def test_later_the_guidance_is_strength_posture_and_return_to_activity(patient_api, episode):
    with time_machine.travel(ONSET + timedelta(days=7, hours=1), tick=False):  # day 8
        data = for_me(patient_api)
    assert (data["phase"], data["day"]) == ("recovery", 8)
    assert {"bridges", "bird-dog", "lifting-technique", "posture-and-desk-setup", "returning-to-running"} <= set(
        data["slugs"]
    )
    assert data["not_yet"] == []


def test_a_prescribed_longer_acute_phase_keeps_the_ice_guidance(patient_api, episode):
    from recovery.models import Prescription

    Prescription.objects.create(episode=episode, overrides={"acute_hours": 96})
    with time_machine.travel(ONSET + timedelta(hours=80), tick=False):
        assert for_me(patient_api)["phase"] == "acute"


@pytest.mark.parametrize(
    ("day", "engine_phase", "phase"),
    [(None, None, Phase.RECOVERY), (2, "acute", Phase.ACUTE), (5, "heat", Phase.HEAT), (8, "heat", Phase.RECOVERY)],
)
def test_the_librarys_guidance_needs_only_the_day_and_the_engines_phase(day, engine_phase, phase):
    # The library knows no episodes (content never imports recovery): recovery hands it these two.
    guidance = library_guidance(language="en", day=day, engine_phase=engine_phase)
    assert guidance.phase == phase
    assert all(item.phase_from <= phase <= item.phase_until for item in guidance.items)
    assert all(item.kind == ItemKind.EXERCISE and item.phase_from > phase for item in guidance.not_yet)


def test_without_an_open_episode_the_guidance_is_for_between_spasms(patient_api):
    with time_machine.travel(ONSET, tick=False):
        data = for_me(patient_api)
    assert (data["episode"], data["day"], data["acute_ends_at"], data["phase"]) == (None, None, None, "recovery")


def test_a_patient_only_gets_guidance_for_their_own_episode(patient_api, episode):
    stranger = UserFactory()
    theirs = EpisodeFactory(patient=stranger, onset=ONSET + timedelta(days=2))
    with time_machine.travel(ONSET + timedelta(days=2, hours=1), tick=False):
        mine = for_me(patient_api)
        assert mine["episode"] == str(episode.id) and mine["phase"] == "acute"
        explicit = for_me(patient_api, episode=episode.id)
        assert explicit["episode"] == str(episode.id)
        response = patient_api.get(f"/api/library/for-me/?episode={theirs.id}")
        unknown = patient_api.get(f"/api/library/for-me/?episode={uuid.uuid4()}")
    assert response.status_code == unknown.status_code == 404
    assert response.json() == unknown.json()
    assert str(theirs.id) not in response.content.decode()
    with time_machine.travel(ONSET + timedelta(days=2, hours=1), tick=False):
        assert for_me(client_for(stranger))["episode"] == str(theirs.id)


def test_guidance_etag_changes_with_the_phase(patient_api, episode):
    with time_machine.travel(ONSET + timedelta(hours=70), tick=False):
        first = patient_api.get("/api/library/for-me/")
        assert first["Cache-Control"] == "private, no-cache"
        assert patient_api.get("/api/library/for-me/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    with time_machine.travel(ONSET + timedelta(hours=73), tick=False):
        later = patient_api.get("/api/library/for-me/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert later.status_code == 200 and later.json()["phase"] == "heat"
