"""What a notification says: its texts, payload and TTL. Says what to do; never pain, medication or anything
else clinical (it may show on a locked screen)."""

from django.utils.translation import gettext as _

from recovery.reminders import actions
from recovery.reminders.acks import reminder_ack_token
from recovery.reminders.models import Reminder
from recovery.treatment.selectors import episode_protocol

# How long a push service should keep trying to reach an offline phone (seconds).
KIND_TTL = {
    "ice_remove": 2 * 3600,
    "heat_remove": 2 * 3600,
    "ice_start": 30 * 60,
    "heat_start": 30 * 60,
    "checkin": 4 * 3600,
    "review": 12 * 3600,
    "rest_nudge": 3600,
    "rest_limit": 3600,
    "movement_break": 15 * 60,
    "help_check": 4 * 3600,
    "clinician_alert": 5 * 60,  # the next round replaces it: an old one is no use
    "plan_end": 6 * 3600,
    "questionnaire": 12 * 3600,
}
DEFAULT_TTL = 3600

# Kinds whose text quotes the patient's protocol (minutes on, the sitting break).
# (and the start and check-in freshness windows the token's expiry follows)
_NEEDS_PROTOCOL = {"ice_start", "heat_start", "movement_break", "checkin"}


def _texts(kind: str, protocol) -> tuple[str, str]:
    """Every text through gettext: the lock screen is a patient's screen like any other."""
    on = {"ice": protocol.ice_on_min, "heat": protocol.heat_on_min} if protocol else {"ice": 20, "heat": 20}
    sitting = protocol.sitting_break_min if protocol else 30
    texts = {
        "ice_start": (
            _("Put the ice on (%(minutes)d min)") % {"minutes": on["ice"]},
            _("Wrap the ice pack in a thin towel, never on bare skin."),
        ),
        "questionnaire": (
            _("A few questions about your back"),
            _("A short questionnaire helps follow your recovery."),
        ),
        "ice_remove": (_("Take the ice off now"), _("Let your skin rest before the next application.")),
        "heat_start": (
            _("Put the heat on (%(minutes)d min)") % {"minutes": on["heat"]},
            _("Moist heat, not too hot. Never fall asleep with it on."),
        ),
        "heat_remove": (_("Take the heat off now"), _("Let your skin rest before the next application.")),
        "checkin": (_("Time for your check-in"), _("How is your back today? It takes a minute.")),
        "review": (
            _("Time to look at your progress"),
            _("See how the last days went. Feeling better? You can end the plan."),
        ),
        "plan_end": (_("Feeling better? End the plan"), _("Two good days in a row: end your plan in the app.")),
        "rest_nudge": (
            _("Time for a short walk"),
            _("Gentle movement helps recovery: a few easy minutes on your feet."),
        ),
        "rest_limit": (_("Bed rest is over for now"), _("Start gentle movement: short, easy walks.")),
        "movement_break": (
            _("Stand up and stretch"),
            _("You have been sitting for %(minutes)d minutes.") % {"minutes": sitting},
        ),
        # After an emergency answer: the patient's "did you get help?"
        "help_check": (
            _("Did you get help?"),
            _("Tell us whether a doctor has seen you, then resume or end the plan."),
        ),
        # The physiotherapist's alert names no one and no symptom: a lock screen is public.
        "clinician_alert": (_("A patient needs your attention now"), _("Open backcare to see who and why.")),
    }
    return texts.get(kind, (_("backcare reminder"), _("Open backcare to see what to do next.")))


HIGH_URGENCY = {"clinician_alert"}  # besides the safety reminders: the push service wakes the phone at once


def reminder_urgency(reminder: Reminder) -> str:
    return "high" if reminder.safety or reminder.kind in HIGH_URGENCY else "normal"


def reminder_protocol(reminder: Reminder, *, cache: dict | None = None):
    """The protocol the reminder's text quotes, or None (a kind that quotes none, or no protocol loaded).
    `cache` (by episode) lets a batch look each episode's up once."""
    if reminder.kind not in _NEEDS_PROTOCOL:
        return None
    cache = {} if cache is None else cache
    if reminder.episode_id not in cache:
        try:
            cache[reminder.episode_id] = episode_protocol(episode=reminder.episode)
        except LookupError:
            cache[reminder.episode_id] = None
    return cache[reminder.episode_id]


def reminder_texts(reminder: Reminder, *, protocol=None) -> tuple[str, str]:
    """The notification's title and body (the app's reminder screen shows them too)."""
    return _texts(reminder.kind, protocol if protocol is not None else reminder_protocol(reminder))


def reminder_payload(reminder: Reminder, *, protocol=None) -> dict:
    """What the phone shows, and the buttons' means to answer."""
    if protocol is None:
        protocol = reminder_protocol(reminder)
    title, body = _texts(reminder.kind, protocol)
    # Safety reminders (take it off) can be confirmed ("It's off"), never snoozed or skipped.
    offered = actions.buttons(kind=reminder.kind, safety=reminder.safety)
    if reminder.recipient_id is not None:
        offered = ()  # a physiotherapist acknowledges in the app (linked, audited), not from the lock screen
    return {
        "title": title,
        "body": body,
        "tag": reminder.slot,
        "kind": reminder.kind,
        "reminder_id": reminder.pk,
        # Lets the service worker's buttons call POST /api/reminders/ack/ without a session or CSRF, for
        # this reminder's buttons only, while they make sense.
        "ack_token": reminder_ack_token(reminder=reminder, protocol=protocol),
        "actions": [{"action": a, "title": str(actions.BUTTON_TITLES[a])} for a in offered][:2],
        # What a plain tap opens (and any tap where the browser shows no buttons: Firefox, Safari).
        "url": actions.screen_url(kind=reminder.kind, reminder_id=reminder.pk),
    }


def reminder_ttl(reminder: Reminder) -> int:
    return KIND_TTL.get(reminder.kind, DEFAULT_TTL)
