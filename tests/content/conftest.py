import shutil
from pathlib import Path

import pytest

from content.services import library_load
from content.sources import LIBRARY_ROOT


@pytest.fixture
def library(db):
    """The library as the migrations load it (transactional tests elsewhere may have flushed it)."""
    library_load()


@pytest.fixture
def library_copy(tmp_path) -> Path:
    """A private copy of the source files, for tests that edit them."""
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_ROOT, root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")
