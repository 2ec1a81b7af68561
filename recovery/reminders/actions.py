"""What each reminder kind lets the patient do from the notification or the app, and how long it stays worth
sending: data, read by payloads.py (buttons, url), acks.py (what a token or a session may do) and dispatch.py
(expiry at claim).

- buttons: the notification's action buttons (at most 2; Firefox and Safari show none, a plain tap opens `url`)
- allowed: what the patient may answer, from the app (session); a token authorises only the buttons' actions
- freshness: minutes after its due instant that a non-safety reminder is still worth sending or acting on;
  claimed later, it is expired, not sent. Safety reminders (take it off) have none: always sent while the
  application may still be on.
"""

from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

START = "start"
STOP = "stop"
SNOOZE = "snooze"
SKIP = "skip"
DONE = "done"  # the first payloads' only answer; still taken from clients that have it

# A start reminder's application kind; a remove reminder's.
START_KINDS = {"ice_start": "ice", "heat_start": "heat"}
REMOVE_KINDS = {"ice_remove": "ice", "heat_remove": "heat"}

BUTTON_TITLES = {
    START: _("Start now"),
    STOP: _("It's off"),
    SNOOZE: _("In 10 min"),
    SKIP: _("Skip"),
    DONE: _("Done"),
}

# kind -> the notification's buttons, in order.
BUTTONS: dict[str, tuple[str, ...]] = {
    "ice_start": (START, SNOOZE),
    "heat_start": (START, SNOOZE),
    "ice_remove": (STOP,),
    "heat_remove": (STOP,),
    "checkin": (),  # opens the check-in screen
    "review": (),  # opens the history screen
    "help_check": (),  # opens the emergency screen: resume or end the plan there
    "clinician_alert": (),  # a physiotherapist acknowledges in the app
}
DEFAULT_BUTTONS = (SNOOZE, SKIP)  # any other non-safety kind
SAFETY_BUTTONS = (DONE,)  # a safety kind not named above: confirm only, never snooze or skip

# The app's screen a plain tap opens; "{id}" is the reminder's id. Unknown kinds: the reminder screen.
SCREENS = {
    "checkin": "/#/checkin",
    "review": "/#/plan",
    "plan_end": "/#/plan",
    "help_check": "/#/emergency",
    "clinician_alert": "/#/alerts",
    "questionnaire": "/#/questionnaire",
}
REMINDER_SCREEN = "/#/reminder/{id}"

# Freshness, minutes after due, by kind; None = from the episode's protocol (see freshness_minutes).
FRESH_MIN: dict[str, int | None] = {
    "ice_start": None,  # protocol.start_fresh_min
    "heat_start": None,
    "checkin": None,  # protocol.checkin_grace_min
    "review": 12 * 60,
    "rest_nudge": 60,
    "rest_limit": 120,
    "movement_break": 15,
    "help_check": 180,
    "plan_end": 360,  # its TTL too: the next morning's card still asks
    "clinician_alert": 5,
}
DEFAULT_FRESH_MIN = 60
# A check-in grace of 0 would expire every reminder a dispatcher is a second late for.
MIN_FRESH_MIN = 15
# A remove reminder's "It's off" stays valid this long after its due instant: the application may be on.
STOP_VALID = timedelta(hours=12)


def buttons(*, kind: str, safety: bool) -> tuple[str, ...]:
    if kind in BUTTONS:
        return BUTTONS[kind]
    return SAFETY_BUTTONS if safety else DEFAULT_BUTTONS


def allowed(*, kind: str, safety: bool) -> tuple[str, ...]:
    """What the patient may answer from the app: the buttons; snooze and skip for any non-safety kind; done."""
    offered = list(buttons(kind=kind, safety=safety))
    extra = (DONE,) if safety else (SNOOZE, SKIP, DONE)
    return tuple(dict.fromkeys([*offered, *extra]))


def screen_url(*, kind: str, reminder_id: int) -> str:
    return SCREENS.get(kind, REMINDER_SCREEN).format(id=reminder_id)


def freshness_minutes(*, kind: str, safety: bool, protocol) -> int | None:
    """How long after due the reminder is still worth sending; None: always (a safety reminder)."""
    if safety or kind in REMOVE_KINDS:
        return None
    minutes = FRESH_MIN.get(kind, DEFAULT_FRESH_MIN)
    if minutes is None:
        if protocol is None:
            minutes = 30 if kind in START_KINDS else 120
        else:
            minutes = protocol.start_fresh_min if kind in START_KINDS else protocol.checkin_grace_min
    return max(minutes, MIN_FRESH_MIN) if kind == "checkin" else minutes


def needs_protocol(kind: str) -> bool:
    return kind in FRESH_MIN and FRESH_MIN[kind] is None


def fresh_until(*, kind: str, safety: bool, due_at: datetime, protocol) -> datetime | None:
    minutes = freshness_minutes(kind=kind, safety=safety, protocol=protocol)
    return None if minutes is None else due_at + timedelta(minutes=minutes)
