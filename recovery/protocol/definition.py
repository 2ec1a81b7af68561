"""The protocol as data, and the hard safety bounds nothing may exceed. Pure: no Django."""

from dataclasses import asdict, dataclass, fields, replace
from datetime import time
from typing import Any


class ProtocolError(ValueError):
    """A definition or a prescription outside the safety bounds; errors maps field -> reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Protocol:
    version: int
    ice_on_min: int = 20
    ice_off_min: int = 90
    acute_hours: int = 72
    heat_on_min: int = 20
    heat_off_min: int = 90
    ice_after_acute: bool = False  # only a prescription may allow ice past the acute phase
    rest_nudge_hours: int = 24
    rest_cap_hours: int = 48
    sitting_break_min: int = 30
    nsaid_flag_day: int = 10
    sedating_caution_hours: int = 24
    checkin_reminder_at: time = time(19, 0)
    checkin_grace_min: int = 120
    review_days: tuple[int, ...] = (7, 14)
    running_walk_min: int = 30
    # v2 (issue 13): a plan that ends, a red flag that reaches a clinician, reminders that go stale.
    heat_until_day: int = 14  # heat reminders end after this local day (the day-14 review)
    good_day_pain_max: int = 2  # a local day whose check-ins are all at most this is a good day
    good_days_to_propose_end: int = 2  # consecutive good days before "Feeling better? End the plan"
    clinician_realert_min: int = 5  # an unacknowledged emergency alert is sent again this often
    clinician_alert_window_min: int = 60  # and for at most this long
    help_check_after_min: int = 120  # after an emergency answer: "did you get help?"
    start_fresh_min: int = 30  # a start reminder claimed later than this after its time is expired, not sent

    def on_min(self, kind: str) -> int:
        return self.ice_on_min if kind == "ice" else self.heat_on_min

    def off_min(self, kind: str) -> int:
        return self.ice_off_min if kind == "ice" else self.heat_off_min


# Hard bounds: (min, max) inclusive. A definition or prescription outside them is refused.
BOUNDS: dict[str, tuple[int, int]] = {
    "ice_on_min": (5, 20),
    "heat_on_min": (5, 20),
    "ice_off_min": (60, 24 * 60),
    "heat_off_min": (60, 24 * 60),
    "acute_hours": (48, 96),
    "rest_nudge_hours": (12, 48),
    "rest_cap_hours": (24, 48),
    "sitting_break_min": (15, 120),
    "nsaid_flag_day": (3, 10),
    "sedating_caution_hours": (12, 72),
    "checkin_grace_min": (0, 240),
    "running_walk_min": (10, 60),
    "heat_until_day": (4, 42),
    "good_day_pain_max": (0, 4),
    "good_days_to_propose_end": (1, 7),
    "clinician_realert_min": (1, 15),
    "clinician_alert_window_min": (15, 240),
    "help_check_after_min": (30, 360),
    "start_fresh_min": (5, 120),
}

# What a physiotherapist may prescribe for one patient (the rest is fixed by the protocol version).
PRESCRIBABLE = {
    "ice_on_min",
    "ice_off_min",
    "acute_hours",
    "heat_on_min",
    "heat_off_min",
    "ice_after_acute",
    "rest_nudge_hours",
    "rest_cap_hours",
    "sitting_break_min",
}


def validate(protocol: Protocol) -> Protocol:
    errors = {}
    for name, (low, high) in BOUNDS.items():
        value = getattr(protocol, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[name] = f"must be a whole number from {low} to {high}"
    if protocol.rest_nudge_hours > protocol.rest_cap_hours:
        errors["rest_nudge_hours"] = "must not be after the rest cap"
    if not protocol.review_days or any(not 1 <= d <= 60 for d in protocol.review_days):
        errors["review_days"] = "must be days from 1 to 60"
    if errors:
        raise ProtocolError(errors)
    return protocol


def protocol_from_dict(data: dict[str, Any]) -> Protocol:
    known = {f.name for f in fields(Protocol)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProtocolError(dict.fromkeys(unknown, "unknown protocol field"))
    values = dict(data)
    if isinstance(values.get("checkin_reminder_at"), str):
        try:
            values["checkin_reminder_at"] = time.fromisoformat(values["checkin_reminder_at"])
        except ValueError as exc:
            raise ProtocolError({"checkin_reminder_at": "must be a local time like 19:00"}) from exc
    if "review_days" in values:
        values["review_days"] = tuple(values["review_days"])
    return validate(Protocol(**values))


def protocol_to_dict(protocol: Protocol) -> dict[str, Any]:
    data = asdict(protocol)
    data["checkin_reminder_at"] = protocol.checkin_reminder_at.strftime("%H:%M")
    data["review_days"] = list(protocol.review_days)
    return data


def prescribe(base: Protocol, overrides: dict[str, Any]) -> Protocol:
    """The base protocol with a physiotherapist's overrides, checked against the hard bounds."""
    not_allowed = sorted(set(overrides) - PRESCRIBABLE)
    if not_allowed:
        raise ProtocolError(dict.fromkeys(not_allowed, "cannot be prescribed"))
    bad_types = {
        name: "must be true or false" if name == "ice_after_acute" else "must be a whole number"
        for name, value in overrides.items()
        if (name == "ice_after_acute") != isinstance(value, bool)
        or (name != "ice_after_acute" and not isinstance(value, int))
    }
    if bad_types:
        raise ProtocolError(bad_types)
    return validate(replace(base, **overrides))
