import hashlib
import json
from pathlib import Path

from django.db import transaction

from .models import RedFlagLevel, RedFlagRule, RedFlagRuleSet

RED_FLAGS_SOURCE = Path(__file__).resolve().parent / "data" / "red_flags.json"


def _validate_rules(rules: list[dict]) -> None:
    codes = set()
    for rule in rules:
        missing = {"code", "question", "level", "guidance"} - set(rule)
        if missing:
            raise ValueError(f"red-flag rule {rule.get('code', '?')} lacks {sorted(missing)}")
        if rule["level"] not in RedFlagLevel.values:
            raise ValueError(f"red-flag rule {rule['code']} has unknown level {rule['level']}")
        if rule["code"] in codes:
            raise ValueError(f"red-flag rule {rule['code']} is listed twice")
        codes.add(rule["code"])


@transaction.atomic
def redflag_rules_load(
    *, source: Path = RED_FLAGS_SOURCE, ruleset_model=RedFlagRuleSet, rule_model=RedFlagRule
) -> tuple[RedFlagRuleSet, bool]:
    """Load the checklist; a changed source becomes a new version, an unchanged one changes nothing.

    Migrations pass their historical models, so the first deploy has a checklist at once.
    """
    raw = source.read_bytes()
    checksum = hashlib.sha256(raw).hexdigest()
    rules = json.loads(raw)["rules"]
    _validate_rules(rules)
    # Serialise concurrent loaders (make run and migrations may race).
    current = ruleset_model.objects.select_for_update().order_by("-version").first()
    if current is not None and current.checksum == checksum:
        return current, False
    ruleset = ruleset_model.objects.create(version=(current.version + 1) if current else 1, checksum=checksum)
    rule_model.objects.bulk_create(
        rule_model(
            ruleset=ruleset,
            code=rule["code"],
            question=rule["question"],
            level=rule["level"],
            guidance=rule["guidance"],
            alert_physiotherapist=rule.get("alert_physiotherapist", True),
            position=index,
        )
        for index, rule in enumerate(rules)
    )
    return ruleset, True
