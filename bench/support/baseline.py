"""Plain Django views (no DRF) doing the same work as the check-in endpoints: the benchmark's baseline.

They are what a careful hand-written view would do, with the same models, the same middleware
and the same response shape, so the gap to backcare is what DRF, knox and the app's own layers
cost:

* auth: the knox token is looked up and its digest checked the way knox does (one query with
  the user joined, sha512 of the token, constant-time compare, expiry, active, patient), but
  without knox's per-request scan of the user's other tokens and without auto-refresh;
* PUT: parse and validate the body, find the open episode and the current red-flag rule set,
  insert the CheckIn (same fields, same payload hash), answer the stored record;
* list: the newest 50 check-ins of the patient (51 fetched to know whether there is a next
  page), their red-flag events prefetched, serialised to the same JSON as the API.
"""

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from hmac import compare_digest

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS

from content.models import RedFlagRuleSet
from recovery.episodes.models import CheckIn, Episode
from recovery.episodes.selectors import checkin_escalation

PAGE_SIZE = 50
CLOCK_SKEW = timedelta(minutes=5)


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _patient(request: HttpRequest):
    """The patient owning the 'Authorization: Token <token>' header, or None."""
    prefix, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if prefix.lower() != "token" or not raw or " " in raw:
        return None
    now = timezone.now()
    for token in AuthToken.objects.filter(token_key=raw[: CONSTANTS.TOKEN_KEY_LENGTH]).select_related("user"):
        if token.expiry is not None and token.expiry < now:
            continue
        if compare_digest(hash_token(raw), token.digest):
            user = token.user
            return user if user.is_active and user.is_patient else None
    return None


def _iso(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _checkin_json(checkin: CheckIn, escalation: dict | None) -> dict:
    return {
        "id": str(checkin.client_uuid),
        "episode": str(checkin.episode_id),
        "occurred_at": _iso(checkin.occurred_at),
        "recorded_at": _iso(checkin.recorded_at),
        "pain": checkin.pain,
        "spasm_frequency": checkin.spasm_frequency,
        "stiffness": checkin.stiffness,
        "sleep_quality": checkin.sleep_quality,
        "water_glasses": checkin.water_glasses,
        "note": checkin.note,
        "red_flags": checkin.red_flag_answers,
        "escalation": escalation,
    }


def _json(data: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data, separators=(",", ":")), content_type="application/json", status=status)


def _small_int(body: dict, name: str, high: int, *, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"{name}: a whole number from 0 to {high}")
    return value


@csrf_exempt
def checkin_put(request: HttpRequest, checkin_id: uuid.UUID) -> HttpResponse:
    if request.method != "PUT":
        return _error(405, "Method not allowed.")
    patient = _patient(request)
    if patient is None:
        return _error(401, "Invalid token.")
    try:
        body = json.loads(request.body)
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        unknown = set(body) - {"occurred_at", "pain", "spasm_frequency", "stiffness", "sleep_quality", "water_glasses"}
        if unknown:
            raise ValueError(f"unsupported fields {sorted(unknown)}")
        pain = _small_int(body, "pain", 10, required=True)
        stiffness = _small_int(body, "stiffness", 10)
        water_glasses = _small_int(body, "water_glasses", 40)
        now = timezone.now()
        occurred_at = now
        if body.get("occurred_at") is not None:
            occurred_at = datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00"))
            if occurred_at.tzinfo is None:
                raise ValueError("occurred_at needs a UTC offset")
            occurred_at = occurred_at.astimezone(UTC)
        if occurred_at > now + CLOCK_SKEW:
            raise ValueError("occurred_at is in the future")
    except (ValueError, TypeError, AttributeError) as exc:
        return _error(400, str(exc))

    episode = Episode.objects.filter(patient=patient, status=Episode.Status.OPEN).first()
    if episode is None or occurred_at < episode.onset - CLOCK_SKEW:
        return _error(400, "No open episode at occurred_at.")
    ruleset_id = RedFlagRuleSet.objects.order_by("-version").values_list("id", flat=True).first()
    canonical = {
        "occurred_at": occurred_at.isoformat(),
        "pain": pain,
        "stiffness": stiffness,
        "water_glasses": water_glasses,
        "spasm_frequency": body.get("spasm_frequency") or "",
        "sleep_quality": body.get("sleep_quality") or "",
        "red_flags": {},
    }
    payload_hash = hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    try:
        checkin = CheckIn.objects.create(
            patient=patient,
            episode=episode,
            client_uuid=checkin_id,
            occurred_at=occurred_at,
            pain=pain,
            spasm_frequency=canonical["spasm_frequency"],
            stiffness=stiffness,
            sleep_quality=canonical["sleep_quality"],
            water_glasses=water_glasses,
            note="",
            red_flag_answers={},
            redflag_ruleset_id=ruleset_id,
            payload_hash=payload_hash,
        )
    except IntegrityError:
        return _error(409, "This id is already stored.")
    # Nothing was answered yes, so there is no escalation to look up.
    return _json(_checkin_json(checkin, None), status=201)


def checkin_list(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _error(405, "Method not allowed.")
    patient = _patient(request)
    if patient is None:
        return _error(401, "Invalid token.")
    rows = list(
        CheckIn.objects.filter(patient=patient)
        .order_by("-occurred_at", "-id")
        .prefetch_related("redflag_events")[: PAGE_SIZE + 1]
    )
    next_link = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        position = base64.urlsafe_b64encode(f"p={rows[-1].occurred_at.isoformat()}".encode()).decode()
        next_link = request.build_absolute_uri(f"{request.path}?cursor={position}")
    results = [_checkin_json(row, checkin_escalation(checkin=row)) for row in rows]
    return _json({"next": next_link, "previous": None, "results": results})
