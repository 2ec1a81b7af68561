"""The need score: why a patient needs attention, and how much. Written once, in Python and in SQL, side by side.

need = the weights of the reasons that hold, plus the weight of every open emergency after the first. The
reasons fall in three groups, each below as its Python rule followed by its SQL twin:

1. open red flags: reported since the physiotherapist last marked the patient reviewed, on an open episode;
2. the stored reasons, which the signals alone decide (no clock, no link): not improving, and, while the episode
   is active, pain worsening, a high STarT Back risk, a worsening PEG, NSAID days, high pain, low adherence. Computed when the summary is stored, into
   `rank_not_improving` and `rank_active`;
3. the reasons of the clock and the link, while the episode is active: bed rest over its cap, 48 hours without a
   check-in, no active device, else 48 hours without a reminder delivered.

TriageRow (recovery.triage.rows) scores with need_reasons() and need_total(); an unfiltered page is ranked by the
database with need_sql(). tests/recovery/triage/test_score.py checks that both rank any set of summaries alike.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, DateTimeField, F, IntegerField, Max, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from content.models import RedFlagLevel
from recovery.episodes.models import Episode, RedFlagEvent
from recovery.triage.signals import EPOCH, EpisodeSignals, adherence_ratio, instant, nsaid_over, rest_over_at

# How much each concern adds to a patient's need; the order is the order the reasons are shown in (most urgent
# first). Red flags dominate, emergencies above all.
WEIGHTS: dict[str, int] = {
    "redflag_emergency": 1000,
    "redflag_urgent": 300,
    "redflag_soon": 100,
    "not_improving_day14": 60,
    "not_improving_day7": 40,
    "pain_worsening": 30,
    "startback_high": 25,
    "peg_worsening": 25,
    "rest_over_cap": 30,
    "nsaid_days": 20,
    "high_pain": 20,
    "no_checkin_48h": 15,
    "low_adherence": 10,
    "no_active_device": 10,
    "no_delivery_48h": 10,
}
REASONS = tuple(WEIGHTS)
SILENCE = timedelta(hours=48)
HIGH_PAIN = 7
LOW_ADHERENCE = 0.5
MIN_PLANNED_FOR_ADHERENCE = 3

FLAG_LEVELS = (RedFlagLevel.EMERGENCY, RedFlagLevel.URGENT, RedFlagLevel.SOON)
_ORDER = {reason: index for index, reason in enumerate(REASONS)}
_SUMMARY = "patient__triage_summary__"  # the stored summary, from a care link


def _when(*cases: tuple[Q, int]) -> Case:
    return Case(
        *(When(condition, then=Value(points)) for condition, points in cases),
        default=Value(0),
        output_field=IntegerField(),
    )


# --- 1. open red flags ------------------------------------------------------------------------------------------


def red_flags_open(signals: EpisodeSignals | None, *, reviewed: datetime | None) -> dict[str, int]:
    """The open episode's red flags reported after `reviewed`, counted by level."""
    counts = dict.fromkeys(FLAG_LEVELS, 0)
    if signals is None or signals["status"] != Episode.Status.OPEN:
        return counts
    for flag in signals["red_flags"]:
        if flag["level"] in counts and (reviewed is None or datetime.fromisoformat(flag["at"]) > reviewed):
            counts[flag["level"]] += 1
    return counts


def _red_flags_sql() -> Case:
    """Open red flags since the last review, weighed in one pass: every emergency counts, urgent and soon once."""
    points = (
        RedFlagEvent.objects.filter(
            episode_id=OuterRef(f"{_SUMMARY}episode_id"),
            alert_physiotherapist=True,
            occurred_at__gt=OuterRef("reviewed_or_never"),
        )
        .order_by()
        .annotate(_g=Value(1))
        .values("_g")
        .annotate(
            points=Sum(_when((Q(level=RedFlagLevel.EMERGENCY), WEIGHTS["redflag_emergency"])))
            + Max(_when((Q(level=RedFlagLevel.URGENT), WEIGHTS["redflag_urgent"])))
            + Max(_when((Q(level=RedFlagLevel.SOON), WEIGHTS["redflag_soon"])))
        )
        .values("points")
    )
    return Case(
        When(**{f"{_SUMMARY}episode_open": True}, then=Coalesce(Subquery(points), Value(0))),
        default=Value(0),
        output_field=IntegerField(),
    )


# --- 2. the stored reasons --------------------------------------------------------------------------------------


def not_improving_reason(signals: EpisodeSignals) -> str | None:
    day = signals["not_improving_day"]
    if day is None:
        return None
    return "not_improving_day14" if day >= 14 else "not_improving_day7"


def active_stored_reasons(signals: EpisodeSignals) -> list[str]:
    """The reasons that hold while the episode is active, decided by the signals alone."""
    reasons = []
    if signals["pain_trend"] == "worsening":
        reasons.append("pain_worsening")
    if signals.get("startback_risk") == "high":
        reasons.append("startback_high")
    if signals.get("peg_trend") == "worsening":
        reasons.append("peg_worsening")
    if nsaid_over(signals):
        reasons.append("nsaid_days")
    if signals["latest_pain"] is not None and signals["latest_pain"] >= HIGH_PAIN:
        reasons.append("high_pain")
    planned = signals["applications_planned"]
    ratio = adherence_ratio(done=signals["applications_done"], planned=planned)
    if planned >= MIN_PLANNED_FOR_ADHERENCE and ratio < LOW_ADHERENCE:
        reasons.append("low_adherence")
    return reasons


def rank_columns(signals: EpisodeSignals | None) -> dict[str, Any]:
    """The summary's columns the database ranks by: the stored reasons' weights, and the facts and instants the
    reasons of the clock are decided by (see need_sql)."""
    if signals is None:
        return {
            "episode_id": None,
            "episode_open": False,
            "onset": None,
            "resolved_at": None,
            "rank_not_improving": 0,
            "rank_active": 0,
            "rest_over_at": None,
            "last_checkin_at": None,
            "last_delivery_at": None,
        }
    not_improving = not_improving_reason(signals)
    return {
        "episode_id": signals["episode_id"],
        "episode_open": signals["status"] == Episode.Status.OPEN,
        "onset": instant(signals["onset"]),
        "resolved_at": instant(signals["resolved_at"]),
        "rank_not_improving": WEIGHTS[not_improving] if not_improving else 0,
        "rank_active": sum(WEIGHTS[reason] for reason in active_stored_reasons(signals)),
        "rest_over_at": rest_over_at(signals),
        "last_checkin_at": instant(signals["last_checkin_at"]),
        "last_delivery_at": instant(signals["last_delivery_at"]),
    }


def _stored_sql() -> F:
    return F(f"{_SUMMARY}rank_not_improving")


# --- 3. the reasons of the clock and the link, while active -----------------------------------------------------


def _silent_for(since: datetime | None, now: datetime) -> bool:
    return since is None or now - since >= SILENCE


def clock_reasons(
    signals: EpisodeSignals, *, now: datetime, consented_at: datetime, has_active_device: bool
) -> list[str]:
    onset = datetime.fromisoformat(signals["onset"])
    silent = now - max(onset, consented_at) >= SILENCE  # 48 hours both into the episode and into the link
    over_at = rest_over_at(signals)
    reasons = []
    if over_at is not None and over_at < now:
        reasons.append("rest_over_cap")
    if silent and _silent_for(instant(signals["last_checkin_at"]), now):
        reasons.append("no_checkin_48h")
    if not has_active_device:
        reasons.append("no_active_device")
    elif silent and _silent_for(instant(signals["last_delivery_at"]), now):
        reasons.append("no_delivery_48h")
    return reasons


def _active_sql(now: datetime) -> Case:
    """rank_active and the reasons of the clock and the link, while the episode is active."""
    quiet = now - SILENCE
    silent = Q(**{f"{_SUMMARY}onset__lte": quiet}, consented_at__lte=quiet)
    checkin_quiet = Q(**{f"{_SUMMARY}last_checkin_at__isnull": True}) | Q(**{f"{_SUMMARY}last_checkin_at__lte": quiet})
    delivery_quiet = Q(**{f"{_SUMMARY}last_delivery_at__isnull": True}) | Q(
        **{f"{_SUMMARY}last_delivery_at__lte": quiet}
    )
    no_device = Q(device_webpush=False, device_fcm=False, device_apns=False)
    while_active = (
        F(f"{_SUMMARY}rank_active")
        + _when((Q(**{f"{_SUMMARY}rest_over_at__lt": now}), WEIGHTS["rest_over_cap"]))
        + _when((silent & checkin_quiet, WEIGHTS["no_checkin_48h"]))
        # One CASE, so the devices are looked up once: no device, else no delivery for 48 h.
        + _when((no_device, WEIGHTS["no_active_device"]), (silent & delivery_quiet, WEIGHTS["no_delivery_48h"]))
    )
    active = Q(**{f"{_SUMMARY}onset__isnull": False}) & (
        Q(**{f"{_SUMMARY}resolved_at__isnull": True}) | Q(**{f"{_SUMMARY}resolved_at__gt": now})
    )
    return Case(When(active, then=while_active), default=Value(0), output_field=IntegerField())


# --- the whole score --------------------------------------------------------------------------------------------


def need_reasons(
    *,
    signals: EpisodeSignals | None,
    red_flags: dict[str, int],
    active: bool,
    now: datetime,
    consented_at: datetime,
    has_active_device: bool,
) -> list[str]:
    """Why the patient needs attention, most urgent first. `red_flags` as red_flags_open() counts them; `active`:
    the episode is in its acute or heat phase."""
    reasons = [f"redflag_{level}" for level in FLAG_LEVELS if red_flags[level]]
    if signals is not None:
        not_improving = not_improving_reason(signals)
        if not_improving:
            reasons.append(not_improving)
        if active:
            reasons += active_stored_reasons(signals)
            reasons += clock_reasons(signals, now=now, consented_at=consented_at, has_active_device=has_active_device)
    return sorted(reasons, key=_ORDER.__getitem__)


def need_total(*, reasons: list[str], red_flags: dict[str, int]) -> int:
    extra_emergencies = max(0, red_flags[RedFlagLevel.EMERGENCY] - 1)
    return sum(WEIGHTS[reason] for reason in reasons) + WEIGHTS["redflag_emergency"] * extra_emergencies


def need_sql(now: datetime) -> dict[str, Any]:
    """need_total(need_reasons(...)) as annotations of a care link queryset that carries the device flags
    (device_webpush, device_fcm, device_apns): `need`, and `reviewed_or_never`, which it compares flags with."""
    return {
        "reviewed_or_never": Coalesce(F("last_reviewed_at"), Value(EPOCH, output_field=DateTimeField())),
        "need": _red_flags_sql() + _stored_sql() + _active_sql(now),
    }
