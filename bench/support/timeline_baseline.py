"""The floor for bench/timeline.py: the same rows as the timeline page and the triage queue, each fetched with one
hand-written SQL query, in plain Django views (no DRF, no ORM building, no access log).

Both authenticate the knox token the way bench.support.baseline does (one query) and answer JSON.

* timeline: the linked patient's 50 newest events of every kind (one UNION ALL, each branch ordered and
  limited, the care link checked in the same statement), 51 fetched to know whether there is a next page;
* triage: every active link of the physiotherapist with its patient, zone, current episode, last check-in,
  rest, the 7-day application and reminder counts, last delivery, active device, NSAID days, open red flags
  and the pain check-ins per day of the windows the queue reads (LATERAL subqueries, one statement), 50 shown:
  what computing the queue from the data costs at the least;
* triage_summaries: the rows the queue reads once every summary is stored (recovery.TriageSummary): every
  active link with its patient, zone, active device, the summary of its current episode and newest check-in id (one
  statement; the summary's JSON passed on as text, unread), 50 shown: what reading the stored queue costs at the
  least.
"""

import json
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from recovery.timeline.daily import START_KINDS

PAGE = 50

_TIMELINE_BRANCHES = {
    "checkin": (
        "recovery_checkin",
        "occurred_at",
        "NULL::timestamptz",
        "jsonb_build_object('id', t.client_uuid, 'episode', t.episode_id, 'pain', t.pain, 'stiffness', t.stiffness,"
        " 'spasm_frequency', t.spasm_frequency, 'sleep_quality', t.sleep_quality,"
        " 'water_glasses', t.water_glasses, 'note', t.note)",
        "t.patient_id = %(p)s",
    ),
    "application": (
        "recovery_application",
        "started_at",
        "t.stopped_at",
        "jsonb_build_object('id', t.client_uuid, 'episode', t.episode_id, 'kind', t.kind, 'auto_closed', t.auto_closed)",
        "t.patient_id = %(p)s",
    ),
    "rest": (
        "recovery_restperiod",
        "started_at",
        "t.stopped_at",
        "jsonb_build_object('id', t.client_uuid, 'episode', t.episode_id)",
        "t.patient_id = %(p)s",
    ),
    "medication": (
        "recovery_medicationintake",
        "taken_at",
        "NULL::timestamptz",
        "jsonb_build_object('id', t.client_uuid, 'episode', t.episode_id, 'med_class', t.med_class, 'name', t.name,"
        " 'dose_mg', t.dose_mg)",
        "t.patient_id = %(p)s",
    ),
    "activity": (
        "recovery_activity",
        "started_at",
        "t.started_at + make_interval(mins => t.minutes)",
        "jsonb_build_object('id', t.client_uuid, 'episode', t.episode_id, 'kind', t.kind, 'minutes', t.minutes,"
        " 'pain_before', t.pain_before, 'pain_after', t.pain_after)",
        "t.patient_id = %(p)s",
    ),
    "redflag": (
        "recovery_redflagevent",
        "occurred_at",
        "NULL::timestamptz",
        "jsonb_build_object('episode', t.episode_id, 'checkin', (SELECT c.client_uuid FROM recovery_checkin c"
        " WHERE c.id = t.checkin_id), 'code', t.code, 'level', t.level)",
        "t.patient_id = %(p)s",
    ),
    "reminder_sent": (
        "recovery_reminder",
        "sent_at",
        "NULL::timestamptz",
        "jsonb_build_object('episode', t.episode_id, 'reminder', t.id, 'kind', t.kind, 'safety', t.safety)",
        "t.patient_id = %(p)s AND t.sent_at IS NOT NULL",
    ),
    "reminder_ack": (
        "recovery_reminder",
        "acknowledged_at",
        "NULL::timestamptz",
        "jsonb_build_object('episode', t.episode_id, 'reminder', t.id, 'kind', t.kind, 'action', t.ack_action)",
        "t.patient_id = %(p)s AND t.acknowledged_at IS NOT NULL",
    ),
    "prescription": (
        "recovery_prescription",
        "created_at",
        "NULL::timestamptz",
        "jsonb_build_object('episode', t.episode_id, 'overrides', t.overrides, 'note', t.note, 'author',"
        " (SELECT u.display_name FROM accounts_user u WHERE u.id = t.created_by_id))",
        "t.episode_id IN (SELECT e.id FROM recovery_episode e WHERE e.patient_id = %(p)s)",
    ),
    "note": (
        "recovery_carenote",
        "created_at",
        "NULL::timestamptz",
        "jsonb_build_object('episode', t.episode_id, 'text', t.text, 'author',"
        " (SELECT u.display_name FROM accounts_user u WHERE u.id = t.author_id))",
        "t.patient_id = %(p)s",
    ),
}

TIMELINE_SQL = (
    "SELECT kind, at, ends_at, ref, data FROM ("
    + " UNION ALL ".join(
        f"(SELECT '{kind}' AS kind, t.{at} AS at, {end} AS ends_at, t.id AS ref, {data} AS data"
        f" FROM {table} t WHERE {where} ORDER BY t.{at} DESC, t.id DESC LIMIT %(n)s)"
        for kind, (table, at, end, data, where) in _TIMELINE_BRANCHES.items()
    )
    + ") events WHERE EXISTS (SELECT 1 FROM recovery_carelink l JOIN accounts_user u ON u.id = l.patient_id"
    " WHERE l.physiotherapist_id = %(physio)s AND l.patient_id = %(p)s AND l.status = 'active' AND u.is_active"
    " AND u.role = 'patient') ORDER BY at DESC, kind DESC, ref DESC LIMIT %(n)s"
)

TRIAGE_SQL = """
SELECT l.id, l.patient_id, l.consented_at, l.last_reviewed_at, u.display_name, u.email,
       coalesce(pr.timezone, 'UTC') AS zone,
       e.id AS episode, e.onset, e.status, e.resolved_at,
       lc.occurred_at AS last_checkin_at, lc.pain AS last_pain,
       (SELECT sum(coalesce(r.stopped_at, %(now)s) - r.started_at) FROM recovery_restperiod r
         WHERE r.episode_id = e.id) AS rest_total,
       (SELECT count(*) FROM recovery_application a WHERE a.episode_id = e.id AND a.started_at >= %(since)s) AS apps,
       rc.planned, rc.sent, rc.acted,
       (SELECT d.sent_at FROM recovery_reminder rm JOIN recovery_delivery d ON d.reminder_id = rm.id
         WHERE rm.patient_id = l.patient_id AND rm.sent_at IS NOT NULL AND d.status = 'sent'
         ORDER BY rm.sent_at DESC, d.sent_at DESC LIMIT 1) AS last_delivery_at,
       EXISTS (SELECT 1 FROM push_notifications_webpushdevice w WHERE w.user_id = l.patient_id AND w.active)
         AS has_device,
       (SELECT count(DISTINCT (m.taken_at AT TIME ZONE coalesce(pr.timezone, 'UTC'))::date)
          FROM recovery_medicationintake m WHERE m.episode_id = e.id AND m.med_class = 'nsaid'
           AND m.taken_at <= %(now)s) AS nsaid_days,
       (SELECT count(*) FROM recovery_redflagevent f WHERE f.episode_id = e.id AND e.status = 'open'
         AND f.alert_physiotherapist AND (l.last_reviewed_at IS NULL OR f.occurred_at > l.last_reviewed_at))
         AS open_flags,
       (SELECT json_agg(json_build_array(day, n, total)) FROM (
          SELECT (c.occurred_at AT TIME ZONE coalesce(pr.timezone, 'UTC'))::date AS day, count(*) AS n,
                 sum(c.pain) AS total
            FROM recovery_checkin c
           WHERE c.episode_id = e.id AND c.occurred_at <= %(now)s
             AND (c.occurred_at >= %(window)s OR c.occurred_at < e.onset + interval '3 days')
           GROUP BY 1) days) AS pain_days
  FROM recovery_carelink l
  JOIN accounts_user u ON u.id = l.patient_id AND u.is_active AND u.role = 'patient'
  LEFT JOIN accounts_profile pr ON pr.user_id = u.id
  LEFT JOIN LATERAL (SELECT * FROM recovery_episode e0 WHERE e0.patient_id = l.patient_id
                      ORDER BY e0.status, e0.onset DESC LIMIT 1) e ON true
  LEFT JOIN LATERAL (SELECT c.occurred_at, c.pain FROM recovery_checkin c WHERE c.episode_id = e.id
                      ORDER BY c.occurred_at DESC, c.id DESC LIMIT 1) lc ON true
  LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE r.kind = ANY(%(starts)s)) AS planned,
                            count(*) FILTER (WHERE r.sent_at IS NOT NULL) AS sent,
                            count(*) FILTER (WHERE r.sent_at IS NOT NULL AND r.ack_action = 'done') AS acted
                       FROM recovery_reminder r
                      WHERE r.episode_id = e.id AND r.due_at >= %(since)s AND r.due_at <= %(now)s
                        AND r.status <> 'cancelled') rc ON true
 WHERE l.physiotherapist_id = %(physio)s AND l.status = 'active'
 ORDER BY open_flags DESC, l.last_reviewed_at NULLS FIRST, l.patient_id
"""


TRIAGE_SUMMARIES_SQL = """
SELECT l.id, l.patient_id, l.status, l.consented_at, l.ended_at, l.last_reviewed_at, u.display_name, u.email,
       coalesce(pr.timezone, 'UTC') AS zone,
       EXISTS (SELECT 1 FROM push_notifications_webpushdevice w WHERE w.user_id = l.patient_id AND w.active)
         AS has_device,
       (SELECT c.id FROM recovery_checkin c WHERE c.patient_id = l.patient_id ORDER BY c.id DESC LIMIT 1)
         AS checkin_mark,
       s.revision, s.computed_revision, s.zone AS summary_zone, s.data
  FROM recovery_carelink l
  JOIN accounts_user u ON u.id = l.patient_id AND u.is_active AND u.role = 'patient'
  LEFT JOIN accounts_profile pr ON pr.user_id = u.id
  LEFT JOIN recovery_triagesummary s ON s.patient_id = l.patient_id
 WHERE l.physiotherapist_id = %(physio)s AND l.status = 'active'
 ORDER BY l.last_reviewed_at NULLS FIRST, l.patient_id
"""


def _user(request: HttpRequest):
    """The account of the 'Authorization: Token <token>' header (as bench.support.baseline checks it), or None."""
    from hmac import compare_digest

    from knox.crypto import hash_token
    from knox.models import AuthToken
    from knox.settings import CONSTANTS

    prefix, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if prefix.lower() != "token" or not raw:
        return None
    now = timezone.now()
    for token in AuthToken.objects.filter(token_key=raw[: CONSTANTS.TOKEN_KEY_LENGTH]).select_related("user"):
        if (token.expiry is None or token.expiry >= now) and compare_digest(hash_token(raw), token.digest):
            return token.user if token.user.is_active else None
    return None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _json(data) -> HttpResponse:
    return HttpResponse(json.dumps(data, separators=(",", ":"), default=str), content_type="application/json")


def timeline(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = _user(request)
    if user is None or not user.is_physiotherapist:
        return JsonResponse({"detail": "Invalid token."}, status=401)
    with connection.cursor() as cursor:
        cursor.execute(TIMELINE_SQL, {"p": patient_id, "physio": user.pk, "n": PAGE + 1})
        rows = cursor.fetchall()
    if not rows:
        return JsonResponse({"detail": "No such patient."}, status=404)
    results = [
        {"kind": kind, "at": _iso(at), "ends_at": _iso(end), "ref": ref, "data": data}
        for kind, at, end, ref, data in rows[:PAGE]
    ]
    return _json({"patient": patient_id, "next": len(rows) > PAGE, "results": results})


def triage(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None or not user.is_physiotherapist:
        return JsonResponse({"detail": "Invalid token."}, status=401)
    now = timezone.now()
    params = {
        "physio": user.pk,
        "now": now,
        "since": now - timedelta(days=7),
        "window": now - timedelta(days=8),
        "starts": list(START_KINDS),
    }
    with connection.cursor() as cursor:
        cursor.execute(TRIAGE_SQL, params)
        names = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    results = [dict(zip(names, row, strict=True)) for row in rows[:PAGE]]
    return _json({"count": len(rows), "results": results})


def triage_summaries(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None or not user.is_physiotherapist:
        return JsonResponse({"detail": "Invalid token."}, status=401)
    with connection.cursor() as cursor:
        cursor.execute(TRIAGE_SUMMARIES_SQL, {"physio": user.pk})
        names = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    results = [dict(zip(names, row, strict=True)) for row in rows[:PAGE]]
    return _json({"count": len(rows), "results": results})
