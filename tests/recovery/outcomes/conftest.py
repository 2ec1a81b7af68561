"""Licensed wording for tests: our own words (never the instruments'), in a directory like a deployment's."""

import json

import pytest

ODI_SECTIONS = [
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
]

STARTBACK_WORDING = {
    "title": "Test screening form",
    "items": {
        **{
            f"q{n}": {"text": f"Test statement number {n}", "options": {"agree": "Yes", "disagree": "No"}}
            for n in range(1, 9)
        },
        "q9": {
            "text": "Test bother question",
            "options": {
                "not_at_all": "Zero",
                "slightly": "One",
                "moderately": "Two",
                "very_much": "Three",
                "extremely": "Four",
            },
        },
    },
}

ODI_WORDING = {
    "title": "Test disability form",
    "items": {
        section: {"text": f"Test section {section}", "options": {f"s{n}": f"Level {n}" for n in range(6)}}
        for section in ODI_SECTIONS
    },
}


def write_licensed(directory, *, startback=True, odi=True):
    if startback:
        (directory / "startback.json").write_text(json.dumps(STARTBACK_WORDING))
    if odi:
        (directory / "odi.json").write_text(json.dumps(ODI_WORDING))
    return directory


@pytest.fixture
def licensed(tmp_path, settings):
    """A deployment holding both licences (with test wording)."""
    settings.BACKCARE_QUESTIONNAIRE_LICENSED_DIR = str(write_licensed(tmp_path))
    return tmp_path


@pytest.fixture
def unlicensed(settings):
    settings.BACKCARE_QUESTIONNAIRE_LICENSED_DIR = None
