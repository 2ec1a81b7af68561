"""The need score is written twice, in Python (TriageRow, through recovery.triage.score.need_reasons) and in SQL
(need_sql, over the stored summary's columns): for any set of stored summaries both must rank the queue alike.

The summaries are generated (flags, instants on and around the boundaries the score tests, reviewed or never),
stored through the real store (so the ranked columns come from rank_columns), and read from the real database.
"""

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

from backcare.accounts.models import Profile, Role, User
from recovery.care.models import CareLink
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.triage.models import TriageSummary
from recovery.triage.score import SILENCE, WEIGHTS, need_reasons, need_total
from recovery.triage.selectors import _ranked_rows, triage_page, triage_rows
from recovery.triage.services import triage_summaries_store
from recovery.triage.signals import EpisodeSignals
from recovery.triage.summaries import summary_row

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
COMPUTED_AT = NOW - timedelta(minutes=1)
TICK = timedelta(microseconds=1)

# How long before NOW something happened: mostly on a boundary of the score or a microsecond off it (where a < in
# one language and a <= in the other would differ), else anywhere in the last few weeks. Onsets and consents are
# mostly 48 hours old or more, so that the reasons of silence are in play.
_EDGES = [timedelta(0), TICK, -TICK, timedelta(hours=24), SILENCE - TICK, SILENCE, SILENCE + TICK, timedelta(hours=72)]
_LONG_AGO = [SILENCE, SILENCE + TICK, timedelta(hours=72), timedelta(days=10)]


def _mostly(values: list, anywhere: st.SearchStrategy) -> st.SearchStrategy:
    return st.integers(0, 3).flatmap(lambda draw: anywhere if draw == 0 else st.sampled_from(values))


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.integers(0, 3).flatmap(lambda draw: st.none() if draw == 0 else strategy)


ago = _mostly(_EDGES, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)))
long_ago = _mostly(_LONG_AGO, ago)
around = _mostly(
    [-e for e in _EDGES] + _EDGES, st.timedeltas(min_value=-timedelta(days=3), max_value=timedelta(days=3))
)
REVIEWED = "at the review"  # a red flag reported at the very instant of the last review

flag = st.tuples(
    st.sampled_from(["emergency", "urgent", "soon"]),
    st.integers(0, 3).flatmap(lambda draw: st.just(REVIEWED) if draw == 0 else ago),
    st.sampled_from([True, True, False]),  # alerts the physiotherapist (only those count)
)
episode = st.fixed_dictionaries(
    {
        "onset_ago": long_ago,
        "open": st.booleans(),
        "resolved_in": st.none() | around,  # resolved at NOW + this (future resolutions are still active)
        "acute_hours": st.sampled_from([48, 72]),
        "rest_cap_hours": st.sampled_from([24, 48]),
        "nsaid_flag_day": st.sampled_from([3, 5]),
        "latest_pain": _maybe(st.integers(0, 10)),
        "last_checkin_ago": _maybe(ago),
        "last_delivery_ago": _maybe(ago),
        "rest_closed_seconds": _mostly(
            [0.0, 24 * 3600.0, 48 * 3600.0], st.integers(0, 60 * 3600 * 10**6).map(lambda us: us / 1e6)
        ),
        "rest_open_ago": st.none() | around,
        "nsaid_days": st.integers(0, 6),
        "flags": st.lists(flag, max_size=5),
        "done": st.integers(0, 6),
        "planned": st.integers(0, 6),
        "trend": st.sampled_from([None, "improving", "stable", "worsening"]),
        "not_improving_day": st.sampled_from([None, 7, 14]),
    }
)
patient = st.fixed_dictionaries(
    {
        "zone": st.sampled_from(["UTC", "Pacific/Kiritimati", "America/New_York"]),
        "consented_ago": long_ago,
        "reviewed_ago": st.none() | ago,
        "device": st.sampled_from([None, "webpush", "fcm", "apns", "inactive"]),
        "episode": _maybe(episode),
    }
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _link(physio: User, spec: dict) -> tuple[User, CareLink]:
    user = User.objects.create(email=f"p-{uuid.uuid4().hex[:12]}@example.test", role=Role.PATIENT)
    Profile.objects.create(user=user, timezone=spec["zone"])
    reviewed = NOW - spec["reviewed_ago"] if spec["reviewed_ago"] is not None else None
    link = CareLink.objects.create(
        patient=user, physiotherapist=physio, consented_at=NOW - spec["consented_ago"], last_reviewed_at=reviewed
    )
    device, token = spec["device"], f"https://127.0.0.1:9/{uuid.uuid4()}"
    if device in ("webpush", "inactive"):
        WebPushDevice.objects.create(user=user, registration_id=token, active=device == "webpush")
    elif device == "fcm":
        GCMDevice.objects.create(user=user, registration_id=token, active=True)
    elif device == "apns":
        APNSDevice.objects.create(user=user, registration_id=uuid.uuid4().hex, active=True)
    return user, link


def _signals(user: User, link: CareLink, spec: dict) -> EpisodeSignals:
    """The episode's signals as a computation would store them, with its red flags in the database too (the
    database ranks by those)."""
    onset = NOW - spec["onset_ago"]
    row = Episode.objects.create(patient=user, onset=onset, trigger="lifting")
    marks = []
    for index, (level, when, alerts) in enumerate(spec["flags"]):
        at = link.last_reviewed_at if when == REVIEWED else NOW - when
        at = at or NOW
        checkin = CheckIn.objects.create(
            patient=user, episode=row, client_uuid=uuid.uuid4(), occurred_at=at, pain=5, payload_hash="h"
        )
        RedFlagEvent.objects.create(
            patient=user, episode=row, checkin=checkin, code=f"c{index}", level=level, question="?", guidance="!",
            ruleset_version=1, occurred_at=at, alert_physiotherapist=alerts,
        )  # fmt: skip
        if alerts:
            marks.append({"level": level, "at": at.isoformat()})

    def instant(key: str) -> str | None:
        return _iso(NOW - spec[key]) if spec[key] is not None else None

    return {
        "episode_id": str(row.id),
        "onset": onset.isoformat(),
        "onset_day": onset.date().toordinal(),
        "status": "open" if spec["open"] else "resolved",
        "resolved_at": _iso(NOW + spec["resolved_in"]) if spec["resolved_in"] is not None else None,
        "acute_hours": spec["acute_hours"],
        "rest_cap_hours": spec["rest_cap_hours"],
        "nsaid_flag_day": spec["nsaid_flag_day"],
        "latest_pain": spec["latest_pain"],
        "last_checkin_at": instant("last_checkin_ago"),
        "last_delivery_at": instant("last_delivery_ago"),
        "rest_closed_seconds": spec["rest_closed_seconds"],
        "rest_open_since": instant("rest_open_ago"),
        "nsaid_days": spec["nsaid_days"],
        "red_flags": marks,
        "applications_done": spec["done"],
        "applications_planned": spec["planned"],
        "reminders_sent": 0,
        "reminders_acted": 0,
        "pain_7d": [None] * 7,
        "pain_trend": spec["trend"],
        "not_improving_day": spec["not_improving_day"],
    }


def _queue(patients: list[dict]) -> User:
    """A physiotherapist following the generated patients, each with a stored summary that holds at NOW."""
    physio = User.objects.create(email=f"physio-{uuid.uuid4().hex[:12]}@example.test", role=Role.PHYSIOTHERAPIST)
    rows = []
    for spec in patients:
        user, link = _link(physio, spec)
        signals = _signals(user, link, spec["episode"]) if spec["episode"] is not None else None
        newest = CheckIn.objects.filter(patient=user).order_by("-pk").values_list("pk", flat=True).first()
        fact = SimpleNamespace(pending_due=None, checkin_mark=newest or 0)
        rows.append(
            summary_row(
                patient_id=user.pk, revision=1, zone=spec["zone"], data={"episode": signals}, fact=fact, now=COMPUTED_AT
            )
        )
    assert triage_summaries_store(summaries=rows) == len(rows)
    return physio


def _walk(physio: User, limit: int) -> list[tuple[int, int]]:
    walked, after = [], None
    while True:
        page = triage_page(physiotherapist=physio, limit=limit, after=after, now=NOW + TICK)
        walked += [(row.link.patient_id, row.need) for row in page.rows]
        if page.next is None:
            return walked
        after = page.next


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(patients=st.lists(patient, min_size=4, max_size=8))
def test_sql_and_python_rank_any_stored_summaries_alike(db, patients):
    with transaction.atomic():
        physio = _queue(patients)
        for now in (NOW - TICK, NOW, NOW + TICK):  # each boundary met exactly, and a microsecond either side
            by_sql = [
                (row.link.patient_id, need)
                for row, need in _ranked_rows(physiotherapist=physio, after=None, limit=200, now=now)
            ]
            by_python = [(row.link.patient_id, row.need) for row in triage_rows(physiotherapist=physio, now=now)]
            assert by_sql == by_python, now
        assert _walk(physio, limit=2) == by_python  # the keyset cursor, in SQL, walks the same order
        # The generated summaries were read as stored, never computed again from the (absent) data.
        assert set(TriageSummary.objects.values_list("computed_at", flat=True)) == {COMPUTED_AT}
        transaction.set_rollback(True)


def test_the_reasons_are_shown_most_urgent_first_and_weighed_once():
    signals = {
        "onset": (NOW - timedelta(days=5)).isoformat(),
        "status": "open",
        "red_flags": [],
        "not_improving_day": 14,
        "pain_trend": "worsening",
        "startback_risk": "high",
        "peg_trend": "worsening",
        "nsaid_days": 6,
        "nsaid_flag_day": 3,
        "latest_pain": 8,
        "applications_done": 0,
        "applications_planned": 4,
        "rest_cap_hours": 48,
        "rest_closed_seconds": 49 * 3600.0,
        "rest_open_since": None,
        "last_checkin_at": None,
        "last_delivery_at": None,
    }
    flags = {"emergency": 2, "urgent": 1, "soon": 0}
    reasons = need_reasons(
        signals=signals, red_flags=flags, active=True, now=NOW, consented_at=NOW - timedelta(days=9),
        has_active_device=False,
    )  # fmt: skip
    expected = [reason for reason in WEIGHTS if reason not in ("redflag_soon", "not_improving_day7", "no_delivery_48h")]
    assert reasons == expected
    assert need_total(reasons=reasons, red_flags=flags) == sum(WEIGHTS[r] for r in expected) + 1000
    resolved = need_reasons(
        signals=signals, red_flags=flags, active=False, now=NOW, consented_at=NOW, has_active_device=True
    )
    assert resolved == ["redflag_emergency", "redflag_urgent", "not_improving_day14"]
