"""The timeline's one query: a UNION ALL over the tables an event lives in, and its keyset cursor.

Every branch (check-ins, ice and heat, rest, medication, walks, red flags, reminders sent and
acknowledged, prescriptions, care notes, questionnaire scores) yields the same five columns (kind, instant, end, row id, a JSON
object of the event's own fields) and the page is ordered by (instant, kind, id) newest first, with a
keyset cursor on that triple: one query per page, whatever the amount of data, and no page ever repeats
or skips a row. On PostgreSQL each branch is also ordered and limited, so it reads at most one page from
its index. recovery.timeline.selectors turns the rows into entries.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import CharField, DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Cast, JSONObject

from backcare.accounts.models import User
from backcare.core.compiled import CompiledShapes, compiled_run, params_swap
from backcare.core.pagination import keyset_decode, keyset_encode
from recovery.care.models import CareNote
from recovery.episodes.models import CheckIn, EpisodePause, RedFlagEvent
from recovery.outcomes.models import QuestionnaireResponse
from recovery.reminders.models import Reminder
from recovery.treatment.models import Activity, Application, MedicationIntake, Prescription, RestPeriod
from recovery.triage.models import ClinicianAlert


@dataclass(frozen=True)
class TimelineCursor:
    """Where a page ends: the (instant, kind, id) of its last entry."""

    at: datetime
    kind: str
    id: int

    def encode(self) -> str:
        return keyset_encode([self.at.isoformat(), self.kind, self.id])

    @classmethod
    def decode(cls, raw: str) -> "TimelineCursor":
        """Raises ValueError when the cursor was not made here."""
        at, kind, pk = keyset_decode(raw, length=3)
        try:
            instant = datetime.fromisoformat(at)
            if instant.tzinfo is None:
                raise ValueError("naive instant")
            instant = instant.astimezone(UTC)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError("invalid cursor") from exc
        if kind not in BRANCHES or isinstance(pk, bool) or not isinstance(pk, int):
            raise ValueError("invalid cursor")
        return cls(instant, kind, pk)


@dataclass(frozen=True)
class _Branch:
    """How one kind of event is read: its rows, its instant, its end, its fields, and their clean-up."""

    queryset: Callable[[User, uuid.UUID | None], QuerySet]
    at: str
    fields: dict[str, Any]
    ends_at: Any = None
    clean: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _mine(model, *, episode_field: str = "episode_id", patient_field: str = "patient"):
    def build(patient: User | int, episode_id: uuid.UUID | None) -> QuerySet:
        qs = model.objects.filter(**{patient_field: patient})
        if episode_id is not None:
            qs = qs.filter(**{episode_field: episode_id})
        return qs

    return build


def _uuid(value: Any) -> str | None:
    # PostgreSQL gives the canonical text; SQLite stores 32 hex digits.
    return str(uuid.UUID(str(value))) if value not in (None, "") else None


def _clean_ids(*names: str, booleans: tuple[str, ...] = (), decimals: tuple[str, ...] = (), json_fields=()):
    def clean(data: dict[str, Any]) -> dict[str, Any]:
        for name in names:
            data[name] = _uuid(data.get(name))
        for name in booleans:
            data[name] = bool(data.get(name))
        for name in decimals:
            if data.get(name) is not None:
                data[name] = Decimal(str(data[name])).quantize(Decimal("0.01"))
        for name in json_fields:
            if isinstance(data.get(name), str):  # SQLite nests a JSON column as text
                data[name] = json.loads(data[name])
        return data

    return clean


BRANCHES: dict[str, _Branch] = {
    "checkin": _Branch(
        _mine(CheckIn),
        "occurred_at",
        {
            "id": "client_uuid",
            "episode": "episode_id",
            "pain": "pain",
            "stiffness": "stiffness",
            "spasm_frequency": "spasm_frequency",
            "sleep_quality": "sleep_quality",
            "water_glasses": "water_glasses",
            "note": "note",
        },
        clean=_clean_ids("id", "episode"),
    ),
    "application": _Branch(
        _mine(Application),
        "started_at",
        {"id": "client_uuid", "episode": "episode_id", "kind": "kind", "auto_closed": "auto_closed"},
        ends_at="stopped_at",
        clean=_clean_ids("id", "episode", booleans=("auto_closed",)),
    ),
    "rest": _Branch(
        _mine(RestPeriod),
        "started_at",
        {"id": "client_uuid", "episode": "episode_id"},
        ends_at="stopped_at",
        clean=_clean_ids("id", "episode"),
    ),
    "medication": _Branch(
        _mine(MedicationIntake),
        "taken_at",
        {"id": "client_uuid", "episode": "episode_id", "med_class": "med_class", "name": "name", "dose_mg": "dose_mg"},
        clean=_clean_ids("id", "episode", decimals=("dose_mg",)),
    ),
    "activity": _Branch(
        _mine(Activity),
        "started_at",
        {
            "id": "client_uuid",
            "episode": "episode_id",
            "kind": "kind",
            "minutes": "minutes",
            "pain_before": "pain_before",
            "pain_after": "pain_after",
        },
        clean=_clean_ids("id", "episode"),
    ),
    "redflag": _Branch(
        _mine(RedFlagEvent),
        "occurred_at",
        {"episode": "episode_id", "checkin": "checkin__client_uuid", "code": "code", "level": "level"},
        clean=_clean_ids("episode", "checkin"),
    ),
    "reminder_sent": _Branch(
        lambda patient, episode_id: _mine(Reminder)(patient, episode_id).filter(sent_at__isnull=False, recipient=None),
        "sent_at",
        {"episode": "episode_id", "reminder": "pk", "kind": "kind", "safety": "safety"},
        clean=_clean_ids("episode", booleans=("safety",)),
    ),
    "reminder_ack": _Branch(
        lambda patient, episode_id: _mine(Reminder)(patient, episode_id).filter(
            acknowledged_at__isnull=False, recipient=None
        ),
        "acknowledged_at",
        {"episode": "episode_id", "reminder": "pk", "kind": "kind", "action": "ack_action"},
        clean=_clean_ids("episode"),
    ),
    "prescription": _Branch(
        _mine(Prescription, patient_field="episode__patient"),
        "created_at",
        {"episode": "episode_id", "overrides": "overrides", "note": "note", "author": "created_by__display_name"},
        clean=_clean_ids("episode", json_fields=("overrides",)),
    ),
    "note": _Branch(
        _mine(CareNote),
        "created_at",
        {"episode": "episode_id", "text": "text", "author": "author__display_name"},
        clean=_clean_ids("episode"),
    ),
    # Issue 13: a red flag's alert to the care team and who took it on; self-care paused after an emergency.
    "alert": _Branch(
        _mine(ClinicianAlert),
        "raised_at",
        {"episode": "episode_id", "alert": "pk", "level": "severity", "code": "redflag_event__code"},
        clean=_clean_ids("episode"),
    ),
    "alert_ack": _Branch(
        lambda patient, episode_id: _mine(ClinicianAlert)(patient, episode_id).filter(acknowledged_at__isnull=False),
        "acknowledged_at",
        {"episode": "episode_id", "alert": "pk", "level": "severity", "author": "acknowledged_by__display_name"},
        clean=_clean_ids("episode"),
    ),
    "pause": _Branch(
        _mine(EpisodePause),
        "started_at",
        {"episode": "episode_id", "reason": "end_reason"},
        ends_at="ended_at",
        clean=_clean_ids("episode"),
    ),
    "resume": _Branch(
        lambda patient, episode_id: _mine(EpisodePause)(patient, episode_id).filter(ended_at__isnull=False),
        "ended_at",
        {"episode": "episode_id", "reason": "end_reason"},
        clean=_clean_ids("episode"),
    ),
    "questionnaire": _Branch(
        _mine(QuestionnaireResponse),
        "occurred_at",
        {
            "id": "client_uuid",
            "episode": "episode_id",
            "questionnaire": "questionnaire__code",
            "version": "questionnaire__version",
            "score": "score",
            "band": "band",
            "scoring_rule": "scoring_rule",
        },
        clean=_clean_ids("id", "episode", decimals=("score",)),
    ),
}
TIMELINE_KINDS = tuple(BRANCHES)


def _after(kind: str, at_field: str, cursor: TimelineCursor) -> Q:
    """Rows of `kind` that sort after the cursor, newest first on (instant, kind, id)."""
    if kind < cursor.kind:
        return Q(**{f"{at_field}__lte": cursor.at})
    if kind > cursor.kind:
        return Q(**{f"{at_field}__lt": cursor.at})
    return Q(**{f"{at_field}__lt": cursor.at}) | Q(**{at_field: cursor.at, "pk__lt": cursor.id})


def _branch_rows(
    kind: str,
    *,
    patient: User | int,
    episode_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    after: TimelineCursor | None,
    limit: int,
) -> QuerySet:
    branch = BRANCHES[kind]
    qs = branch.queryset(patient, episode_id)
    if since is not None:
        qs = qs.filter(**{f"{branch.at}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{branch.at}__lt": until})
    if after is not None:
        qs = qs.filter(_after(kind, branch.at, after))
    ends_at = F(branch.ends_at) if branch.ends_at else Cast(Value(None), DateTimeField())
    qs = qs.annotate(
        tl_kind=Value(kind, output_field=CharField()),
        tl_at=F(branch.at),
        tl_end=ends_at,
        tl_id=F("pk"),
        tl_data=JSONObject(**{name: F(source) for name, source in branch.fields.items()}),
    ).values_list("tl_kind", "tl_at", "tl_end", "tl_id", "tl_data")
    if connection.features.supports_slicing_ordering_in_compound:
        qs = qs.order_by(f"-{branch.at}", "-pk")[:limit]
    else:
        qs = qs.order_by()
    return qs


def _union(
    *,
    patient_id: int,
    kinds: tuple[str, ...],
    episode_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    after: TimelineCursor | None,
    limit: int,
) -> QuerySet:
    branches = [
        _branch_rows(
            kind, patient=patient_id, episode_id=episode_id, since=since, until=until, after=after, limit=limit
        )
        for kind in kinds
    ]
    if len(branches) == 1 and connection.features.supports_slicing_ordering_in_compound:
        return branches[0]  # one kind: already newest first on (instant, id), and limited
    combined = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
    return combined.order_by("-tl_at", "-tl_kind", "-tl_id")[:limit]


# Compiling the ten-branch union costs more than running it. On PostgreSQL its SQL is compiled once per shape
# (kinds, which filters are present, the cursor's kind, the page size) with stand-in values, and each request
# only swaps its own values into the parameters.
_STAND_IN = {
    "patient": -7_319_004_211,
    "episode": uuid.UUID("00000000-0000-4000-8000-0000007e9150"),
    "since": datetime(1901, 1, 1, 0, 0, 1, tzinfo=UTC),
    "until": datetime(1901, 1, 1, 0, 0, 2, tzinfo=UTC),
    "after_at": datetime(1901, 1, 1, 0, 0, 3, tzinfo=UTC),
    "after_id": -7_319_004_212,
}
_SHAPES = CompiledShapes(max_shapes=256)


def timeline_rows(*, patient_id: int, kinds, episode_id, since, until, after, limit) -> list[tuple]:
    """Up to `limit` rows (kind, instant, end, id, data) of the given kinds after `after`, newest first."""
    if connection.vendor != "postgresql":
        return list(
            _union(
                patient_id=patient_id,
                kinds=kinds,
                episode_id=episode_id,
                since=since,
                until=until,
                after=after,
                limit=limit,
            )
        )
    shape = (kinds, episode_id is not None, since is not None, until is not None, after.kind if after else None, limit)
    stand_in = _STAND_IN
    ((sql, template),) = _SHAPES.get(
        shape,
        lambda: [
            _union(
                patient_id=stand_in["patient"],
                kinds=kinds,
                episode_id=stand_in["episode"] if episode_id is not None else None,
                since=stand_in["since"] if since is not None else None,
                until=stand_in["until"] if until is not None else None,
                after=TimelineCursor(stand_in["after_at"], after.kind, stand_in["after_id"]) if after else None,
                limit=limit,
            )
        ],
    )
    actual = {
        _STAND_IN["patient"]: patient_id,
        _STAND_IN["episode"]: episode_id,
        _STAND_IN["since"]: since,
        _STAND_IN["until"]: until,
        _STAND_IN["after_at"]: after.at if after else None,
        _STAND_IN["after_id"]: after.id if after else None,
    }
    return compiled_run(sql, params_swap(template, actual))
