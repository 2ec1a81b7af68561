"""The timeline as CSV: one row per event, newest first, instants in the patient's zone with their offset."""

import csv
import io
import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from backcare.accounts.models import User
from backcare.accounts.selectors import profile_zone
from recovery.care.selectors import patient_episode_get
from recovery.timeline.export import Download, instant_text
from recovery.timeline.selectors import TIMELINE_KINDS, TimelineCursor, local_days_span, patient_timeline

# (column, key in the entry's data). `kind` is the timeline kind; `detail_kind` the event's own kind
# (ice or heat, the reminder's kind, walking).
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("episode", "episode"),
    ("record_id", "id"),
    ("pain", "pain"),
    ("stiffness", "stiffness"),
    ("spasm_frequency", "spasm_frequency"),
    ("sleep_quality", "sleep_quality"),
    ("water_glasses", "water_glasses"),
    ("detail_kind", "kind"),
    ("auto_closed", "auto_closed"),
    ("med_class", "med_class"),
    ("medication_name", "name"),
    ("dose_mg", "dose_mg"),
    ("minutes", "minutes"),
    ("pain_before", "pain_before"),
    ("pain_after", "pain_after"),
    ("checkin", "checkin"),
    ("code", "code"),
    ("level", "level"),
    ("reminder", "reminder"),
    ("safety", "safety"),
    ("action", "action"),
    ("overrides", "overrides"),
    ("note", "note"),
    ("text", "text"),
    ("author", "author"),
    ("alert", "alert"),
    ("reason", "reason"),
    ("questionnaire", "questionnaire"),
    ("questionnaire_version", "version"),
    ("score", "score"),
    ("band", "band"),
    ("scoring_rule", "scoring_rule"),
)
CSV_HEADER = ("kind", "at", "ends_at", "ref", *(name for name, _ in CSV_COLUMNS))
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
_FREE_TEXT = {"note", "text", "name", "author"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CSV_PAGE = 2000


def csv_cell(value: Any, *, free_text: bool = False) -> str:
    """One value as text: 0 stays "0" and False "false"; only a missing value is empty.

    Free text a patient or physiotherapist typed is prefixed with ' when a spreadsheet would run it as
    a formula (=, +, -, @).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    text = str(value)
    if free_text and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def timeline_csv(
    *,
    patient: User,
    zone: ZoneInfo,
    episode_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] | None = None,
) -> str:
    """The whole timeline (oldest last, as on screen: newest first), one row per event, as CSV text.

    Read in pages of 2000 through the timeline selector, so the number of queries grows with the
    history only by one per 2000 events.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    chosen = tuple(kinds) if kinds is not None else TIMELINE_KINDS
    after: TimelineCursor | None = None
    while True:
        page = patient_timeline(
            patient=patient, kinds=chosen, episode_id=episode_id, since=since, until=until, after=after, limit=_CSV_PAGE
        )
        for entry in page.entries:
            data = entry.data
            writer.writerow(
                (
                    entry.kind,
                    instant_text(entry.at, zone),
                    instant_text(entry.ends_at, zone) or "",
                    entry.id,
                    *(csv_cell(data.get(key), free_text=key in _FREE_TEXT) for _, key in CSV_COLUMNS),
                )
            )
        if page.next is None:
            return out.getvalue()
        after = page.next


def patient_csv_download(
    *,
    patient: User,
    kinds: Iterable[str] | None = None,
    episode_id: uuid.UUID | None = None,
    since: date | None = None,
    until: date | None = None,
) -> Download:
    """The patient's timeline as a CSV file, filtered by kinds, an episode of theirs (else 400) and local days."""
    zone = profile_zone(user=patient)
    episode = patient_episode_get(patient=patient, episode_id=episode_id) if episode_id else None
    start, end = local_days_span(since=since, until=until, zone=zone)
    text = timeline_csv(
        patient=patient, zone=zone, kinds=kinds, episode_id=episode.pk if episode else None, since=start, until=end
    )
    return Download(
        body=text.encode(),
        content_type=CSV_CONTENT_TYPE,
        filename=f"backcare-{patient.pk}-timeline-{timezone.now().astimezone(zone).strftime('%Y%m%d')}.csv",
    )
