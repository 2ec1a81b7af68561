"""The episode's questionnaires as FHIR R4: each questionnaire version answered as a Questionnaire, each answer as a
QuestionnaireResponse linked to it, each score as an Observation derived from the response.

LOINC codes, only where one exists (looked up for issue 17; none invented):
- PEG: 91147-9 "Mean score [PEG]" (LOINC, method "Pain intensity, Enjoyment of life, General activity (PEG)").
- STarT Back: panel 91349-1, items 91340-0 ... 91348-3, distress subscore 91350-9, total score 91351-7, risk level
  91352-5 with answers LA9194-7 low, LA8982-6 medium, LA9193-9 high (loinc.org/91349-1, /91350-9, /91352-5).
- Oswestry: panel 97908-8, score 97909-6 (loinc.org/97909-6). Its bands have no LOINC code: interpretation text.
The codes sit in each questionnaire's data file ("loinc"), so this module holds none of them.

Wording: a licensed instrument's Questionnaire carries its item texts only where this deployment is licensed to
show them (recovery.outcomes.catalogue); elsewhere the structure alone. Reads only, two queries.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from recovery.episodes.models import Episode
from recovery.outcomes.catalogue import questionnaires_offered
from recovery.outcomes.engine import Questionnaire, questionnaire_from_dict
from recovery.outcomes.models import QuestionnaireResponse

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
QUESTIONNAIRE_URL = "urn:backcare:questionnaire:{code}"
_ID_NAMESPACE = uuid.UUID("2f6c1d0e-8a4b-4c7e-9d35-6b1a0f2e7c44")
RISK_DISPLAY = {"low": "Low", "medium": "Medium", "high": "High"}


def _id(kind: str, key: Any) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}/{key}"))


def _ref(resource: dict) -> dict:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _coding(system: str, code: str, display: str = "") -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def outcome_fhir_resources(
    *, episode: Episode, subject: dict, instant: Callable[[datetime | None], str | None]
) -> list[dict[str, Any]]:
    """Questionnaires first (one per version answered), then each response and the observations of its score."""
    responses = list(
        QuestionnaireResponse.objects.filter(episode=episode)
        .select_related("questionnaire")
        .order_by("occurred_at", "id")
    )
    if not responses:
        return []
    worded = {o.row.pk: o.questionnaire for o in questionnaires_offered()}
    questionnaires: dict[int, tuple[Questionnaire, dict]] = {}
    for response in responses:
        row = response.questionnaire
        if row.pk not in questionnaires:
            q = worded.get(row.pk) or questionnaire_from_dict(row.definition)
            questionnaires[row.pk] = (q, _questionnaire(q))
    out = [resource for _, resource in questionnaires.values()]
    for response in responses:
        q, questionnaire = questionnaires[response.questionnaire_id]
        answer = _response(response, q, subject, instant)
        out.append(answer)
        out.extend(_observations(response, q, subject, instant, derived_from=_ref(answer)))
    return out


def _canonical(q: Questionnaire) -> str:
    return f"{QUESTIONNAIRE_URL.format(code=q.code)}|{q.version}"


def _questionnaire(q: Questionnaire) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": _id("questionnaire", f"{q.code}/{q.version}"),
        "url": QUESTIONNAIRE_URL.format(code=q.code),
        "version": str(q.version),
        "name": "".join(ch for ch in q.code.title() if ch.isalnum()),
        "title": q.title,
        "status": "active",
        "subjectType": ["Patient"],
        "item": [_questionnaire_item(q, item) for item in q.items],
    }
    if q.loinc.get("panel"):
        resource["code"] = [_coding(LOINC, q.loinc["panel"], q.title)]
    if q.licence_note or q.citation:
        resource["copyright"] = " ".join(part for part in (q.citation, q.licence_note) if part)
    return resource


def _questionnaire_item(q: Questionnaire, item) -> dict[str, Any]:
    entry: dict[str, Any] = {"linkId": item.id, "type": "integer" if item.kind == "scale" else "choice"}
    if item.text:
        entry["text"] = item.text
    if item.loinc:
        entry["code"] = [_coding(LOINC, item.loinc)]
    if item.kind == "choice":
        system = f"{QUESTIONNAIRE_URL.format(code=q.code)}:{item.id}"
        entry["answerOption"] = [{"valueCoding": _coding(system, o.code, o.text)} for o in item.options]
    return entry


def _response(response: QuestionnaireResponse, q: Questionnaire, subject: dict, instant) -> dict[str, Any]:
    items = []
    for item in q.items:
        value = response.answers.get(item.id)
        if value is None:
            continue  # skipped: no answer, as the score's rule counted it
        if item.kind == "scale":
            answer = {"valueInteger": value}
        else:
            option = item.option(value)
            system = f"{QUESTIONNAIRE_URL.format(code=q.code)}:{item.id}"
            answer = {"valueCoding": _coding(system, value, option.text if option else "")}
        items.append({"linkId": item.id, "answer": [answer]})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": _id("response", response.pk),
        "identifier": {"system": "urn:backcare:questionnaire-response", "value": str(response.client_uuid)},
        "questionnaire": _canonical(q),
        "status": "completed",
        "subject": subject,
        "authored": instant(response.occurred_at),
        "item": items,
    }


def _observation(response, q, subject, instant, *, key: str, code: dict, text: str, derived_from: dict) -> dict:
    return {
        "resourceType": "Observation",
        "id": _id("observation", f"{response.pk}/{key}"),
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": {"coding": [code], "text": text} if code else {"text": text},
        "subject": subject,
        "effectiveDateTime": instant(response.occurred_at),
        "issued": instant(response.recorded_at),
        "derivedFrom": [derived_from],
        "method": {
            "text": f"backcare scoring rule {response.scoring_rule} ({q.citation})"
            if q.citation
            else response.scoring_rule
        },
    }


def _quantity(value) -> dict:
    return {"value": float(value), "unit": "{score}", "system": UCUM, "code": "{score}"}


def _observations(response, q: Questionnaire, subject: dict, instant, *, derived_from: dict) -> list[dict]:
    score_code = _coding(LOINC, q.loinc["score"], q.loinc.get("score_display", "")) if q.loinc.get("score") else None
    main = _observation(
        response, q, subject, instant, key="score", code=score_code, text=f"{q.title} score", derived_from=derived_from
    )
    main["valueQuantity"] = _quantity(response.score)
    if response.band and q.rule != "startback":
        main["interpretation"] = [{"text": response.band}]
    out = [main]
    if q.rule == "startback":
        distress_code = (
            _coding(LOINC, q.loinc["distress"], q.loinc.get("distress_display", ""))
            if q.loinc.get("distress")
            else None
        )
        distress = _observation(
            response,
            q,
            subject,
            instant,
            key="distress",
            code=distress_code,
            text=f"{q.title} distress subscore",
            derived_from=derived_from,
        )
        distress["valueQuantity"] = _quantity(response.subscores.get("distress", 0))
        risk_code = _coding(LOINC, q.loinc["risk"], q.loinc.get("risk_display", "")) if q.loinc.get("risk") else None
        risk = _observation(
            response, q, subject, instant, key="risk", code=risk_code, text=f"{q.title} risk", derived_from=derived_from
        )
        answer_code = q.loinc.get(f"risk_{response.band}")
        concept: dict[str, Any] = {"text": RISK_DISPLAY.get(response.band, response.band)}
        if answer_code:
            concept["coding"] = [_coding(LOINC, answer_code, concept["text"])]
        risk["valueCodeableConcept"] = concept
        out += [distress, risk]
    return out
