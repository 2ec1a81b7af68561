"""Loading the definitions: idempotent, a changed file needs a new version, and the repository's licensed
instruments hold structure and scoring only (their wording comes from the deployment)."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from recovery.outcomes.engine import DefinitionError, questionnaire_from_dict
from recovery.outcomes.models import QuestionnaireVersion
from recovery.outcomes.services import SOURCE_DIR, questionnaire_versions_load


def test_the_repository_holds_no_wording_of_the_licensed_instruments():
    for code in ("startback", "odi"):
        raw = json.loads((SOURCE_DIR / f"{code}.json").read_text())
        assert raw["licence"]["wording_licensed"] is True
        for item in raw["items"]:
            assert "text" not in item and "anchors" not in item, (code, item["id"])
            assert all(set(option) == {"code", "score"} for option in item["options"]), (code, item["id"])


def test_a_licensed_definition_with_wording_is_refused():
    raw = json.loads((SOURCE_DIR / "odi.json").read_text())
    raw["items"][0]["text"] = "some wording"
    raw["items"][0]["options"] = [{**o, "text": "x"} for o in raw["items"][0]["options"]]
    for item in raw["items"][1:]:
        item["text"] = "t"
        item["options"] = [{**o, "text": "x"} for o in item["options"]]
    with pytest.raises(DefinitionError):
        questionnaire_from_dict(raw)


@pytest.mark.django_db
def test_loading_is_idempotent_and_a_changed_file_needs_a_new_version(tmp_path: Path, capsys):
    call_command("load_questionnaires")
    assert "peg v1: unchanged" in capsys.readouterr().out
    before = QuestionnaireVersion.objects.count()
    raw = json.loads((SOURCE_DIR / "peg.json").read_text())
    raw["title"] = "PEG (changed)"
    (tmp_path / "peg.json").write_text(json.dumps(raw))
    with pytest.raises(DefinitionError, match="bump the version"):
        questionnaire_versions_load(source=tmp_path)
    raw["version"] = 2
    (tmp_path / "peg.json").write_text(json.dumps(raw))
    ((row, created),) = questionnaire_versions_load(source=tmp_path)
    assert created and (row.code, row.version) == ("peg", 2)
    assert QuestionnaireVersion.objects.count() == before + 1
