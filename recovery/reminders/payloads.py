"""What a notification says: its texts, payload and TTL. Says what to do; never pain, medication or anything
else clinical (it may show on a locked screen)."""

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
    "questionnaire": 12 * 3600,
}
DEFAULT_TTL = 3600

# Kinds whose text quotes the patient's protocol (minutes on, the sitting break).
_NEEDS_PROTOCOL = {"ice_start", "heat_start", "movement_break"}


def _texts(kind: str, protocol) -> tuple[str, str]:
    on = {"ice": protocol.ice_on_min, "heat": protocol.heat_on_min} if protocol else {"ice": 20, "heat": 20}
    texts = {
        "ice_start": (f"Put the ice on ({on['ice']} min)", "Wrap the ice pack in a thin towel, never on bare skin."),
        "ice_remove": ("Take the ice off now", "Let your skin rest before the next application."),
        "heat_start": (f"Put the heat on ({on['heat']} min)", "Moist heat, not too hot. Never fall asleep with it on."),
        "heat_remove": ("Take the heat off now", "Let your skin rest before the next application."),
        "checkin": ("Time for your check-in", "How is your back today? It takes a minute."),
        "review": ("Time to look at your progress", "See how the last days went, and what comes next."),
        "questionnaire": ("A few questions about your back", "A short questionnaire helps follow your recovery."),
        "rest_nudge": ("Time for a short walk", "Gentle movement helps recovery: a few easy minutes on your feet."),
        "rest_limit": ("Bed rest is over for now", "Start gentle movement: short, easy walks."),
        "movement_break": (
            "Stand up and stretch",
            f"You have been sitting for {protocol.sitting_break_min if protocol else 30} minutes.",
        ),
    }
    return texts.get(kind, ("backcare reminder", "Open backcare to see what to do next."))


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


def reminder_payload(reminder: Reminder, *, protocol=None) -> dict:
    """What the phone shows, and the buttons' means to answer."""
    if protocol is None:
        protocol = reminder_protocol(reminder)
    title, body = _texts(reminder.kind, protocol)
    # Safety reminders (take it off) can be confirmed, never snoozed or skipped.
    actions = [{"action": "done", "title": "Done"}]
    if not reminder.safety:
        actions.append({"action": "snooze", "title": "In 10 min"})
    return {
        "title": title,
        "body": body,
        "tag": reminder.slot,
        "kind": reminder.kind,
        "reminder_id": reminder.pk,
        # Lets the service worker's buttons call POST /api/reminders/ack/ without a session or CSRF.
        "ack_token": reminder_ack_token(reminder_id=reminder.pk),
        "actions": actions,
        "url": "/",
    }


def reminder_ttl(reminder: Reminder) -> int:
    return KIND_TTL.get(reminder.kind, DEFAULT_TTL)
