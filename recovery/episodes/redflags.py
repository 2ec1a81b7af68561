"""Turn red-flag answers into an escalation. Pure: no Django, no I/O."""

from dataclasses import dataclass

SEVERITY = {"emergency": 3, "urgent": 2, "soon": 1}

HEADLINES = {
    "emergency": "Get emergency help now",
    "urgent": "See a doctor today",
    "soon": "Arrange to see a doctor or physiotherapist soon",
}

ACTIONS = {
    "emergency": [
        "Call your emergency number or go to the nearest emergency department now.",
        "Do not drive yourself; ask someone to take you or call an ambulance.",
        "Stop the self-care plan until a doctor has seen you.",
    ],
    "urgent": [
        "Contact a doctor today, or an urgent care service if yours is closed.",
        "If new weakness, numbness between the legs or loss of bladder or bowel control appears, treat it as an emergency.",
    ],
    "soon": [
        "Book an appointment with a doctor or physiotherapist in the next few days.",
        "Keep logging your pain so they can see how it has changed.",
    ],
}


@dataclass(frozen=True)
class Rule:
    code: str
    level: str
    question: str
    guidance: str
    alert_physiotherapist: bool = True


@dataclass(frozen=True)
class Flag:
    code: str
    level: str
    question: str
    guidance: str
    alert_physiotherapist: bool


def flags_raised(*, rules: list[Rule], answers: dict[str, bool]) -> list[Flag]:
    """Every rule answered yes, most severe first (rule order within a level)."""
    raised = [
        Flag(r.code, r.level, r.question, r.guidance, r.alert_physiotherapist)
        for r in rules
        if answers.get(r.code) is True
    ]
    return sorted(raised, key=lambda f: -SEVERITY[f.level])


def escalation_for(flags: list[Flag]) -> dict | None:
    """The block a response carries when anything was raised; None when all is clear."""
    if not flags:
        return None
    level = max((f.level for f in flags), key=SEVERITY.__getitem__)
    return {
        "level": level,
        "headline": HEADLINES[level],
        "actions": ACTIONS[level],
        "flags": [{"code": f.code, "level": f.level, "question": f.question, "guidance": f.guidance} for f in flags],
    }
