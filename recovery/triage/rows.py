"""One row of the triage queue: a care link and its patient's stored summary, read at `now`."""

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from recovery.triage.score import need_reasons, need_total, red_flags_open
from recovery.triage.signals import (
    EpisodeSignals,
    SummaryData,
    adherence_ratio,
    instant,
    nsaid_over,
    phase_of,
    rest_over_cap,
    rest_seconds,
)


class TriageRow:
    """What ranking needs (phase, red flags, reasons, need) is worked out for every row; what is only shown
    (pain per day, adherence, rest...) is read from the signals when asked for, so only the page pays for it."""

    __slots__ = ("link", "zone", "today", "now", "signals", "episode", "phase", "day", "red_flags")
    __slots__ += ("has_active_device", "need", "reasons")

    def __init__(self, link: Any, zone: ZoneInfo, today: date, now: datetime, data: SummaryData | None):
        self.link, self.zone, self.today, self.now = link, zone, today, now
        self.has_active_device = bool(link.device_webpush or link.device_fcm or link.device_apns)
        signals = self.signals = data["episode"] if data is not None else None
        self.episode, self.day = None, None
        if signals is not None:
            self.episode = SimpleNamespace(
                id=signals["episode_id"],
                onset=datetime.fromisoformat(signals["onset"]),
                status=signals["status"],
                resolved_at=instant(signals["resolved_at"]),
            )
            self.day = today.toordinal() - signals["onset_day"] + 1
        self.phase = phase_of(signals, now)
        self.red_flags = red_flags_open(signals, reviewed=link.last_reviewed_at)
        self.reasons = need_reasons(
            signals=signals,
            red_flags=self.red_flags,
            active=self.phase in ("acute", "heat"),
            now=now,
            consented_at=link.consented_at,
            has_active_device=self.has_active_device,
        )
        self.need = need_total(reasons=self.reasons, red_flags=self.red_flags)

    @property
    def sort_key(self) -> tuple:
        """Need descending, last reviewed ascending (never first), patient id: as the database orders the page."""
        reviewed = self.link.last_reviewed_at
        return (-self.need, reviewed.timestamp() if reviewed else float("-inf"), self.link.patient_id)

    # --- shown, not ranked: read when asked ---------------------------------------------------------------

    def _get(self, key: str, default: Any = None) -> Any:
        return self.signals[key] if self.signals is not None else default

    @property
    def no_delivery_48h(self) -> bool:
        return "no_delivery_48h" in self.reasons

    @property
    def latest_pain(self) -> int | None:
        return self._get("latest_pain")

    @property
    def last_checkin_at(self) -> datetime | None:
        return instant(self._get("last_checkin_at"))

    @property
    def last_delivery_at(self) -> datetime | None:
        return instant(self._get("last_delivery_at"))

    @property
    def pain_7d(self) -> list[dict[str, Any]]:
        """Mean pain per local day, oldest first, today last."""
        today = self.today
        return [
            {"date": today - timedelta(days=6 - i), "mean": mean} for i, mean in enumerate(self._get("pain_7d", []))
        ]

    @property
    def pain_trend(self) -> str | None:
        return self._get("pain_trend")

    @property
    def not_improving_day(self) -> int | None:
        return self._get("not_improving_day")

    @property
    def not_improving(self) -> bool:
        return self.not_improving_day is not None

    @property
    def startback_risk(self) -> str | None:
        return self._get("startback_risk")

    @property
    def peg_trend(self) -> str | None:
        return self._get("peg_trend")

    @property
    def rest_hours(self) -> float:
        return round(rest_seconds(self.signals, self.now) / 3600, 1) if self.signals is not None else 0.0

    @property
    def rest_cap_hours(self) -> int | None:
        return self._get("rest_cap_hours")

    @property
    def rest_over_cap(self) -> bool:
        return self.signals is not None and rest_over_cap(self.signals, self.now)

    @property
    def nsaid_days(self) -> int:
        return self._get("nsaid_days", 0)

    @property
    def nsaid_flag_day(self) -> int | None:
        return self._get("nsaid_flag_day")

    @property
    def nsaid_over(self) -> bool:
        return self.signals is not None and nsaid_over(self.signals)

    @property
    def adherence_or_none(self) -> dict[str, Any] | None:
        signals: EpisodeSignals | None = self.signals
        if signals is None:
            return None
        done, planned = signals["applications_done"], signals["applications_planned"]
        return {
            "applications_done": done,
            "applications_planned": planned,
            "ratio": adherence_ratio(done=done, planned=planned),
            "reminders_sent": signals["reminders_sent"],
            "reminders_acted": signals["reminders_acted"],
        }

    @property
    def patient(self) -> dict[str, Any]:
        link = self.link
        return {
            "id": link.patient_id,
            "display_name": link.display_name,
            "email": link.email,
            "timezone": self.zone.key,
        }
