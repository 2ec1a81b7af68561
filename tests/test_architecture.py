"""The one import rule import-linter cannot see: a recovery domain never uses another's `_private` names.

import-linter (`make lint`) checks which modules import which; this reads every module under recovery/ and
fails on `from recovery.<domain>... import _name` or `<module of a domain>._name` used outside that domain.
The aggregator (recovery/api/), tasks.py and the commands are outside every domain, so they are held to it too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECOVERY = ROOT / "recovery"
DOMAINS = {"care", "episodes", "protocol", "reminders", "timeline", "treatment", "triage"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "recovery" and parts[1] in DOMAINS else None


def is_module(dotted: str) -> bool:
    """Whether a dotted name is a module or package of the project (not a class or function in one)."""
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def absolute(node: ast.ImportFrom, *, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything that is not a plain chain of names."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


def crossings(source: str, *, importer: str, is_package: bool = False) -> list[str]:
    """Each use of another domain's private name in this module's source, as "line: what"."""
    mine = domain_of(importer)

    def foreign(module: str) -> bool:
        theirs = domain_of(module)
        return theirs is not None and theirs != mine

    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> the dotted name it stands for, when that is in another domain
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and foreign(alias.name):
                    bound[alias.asname] = alias.name
                elif not alias.asname and alias.name.startswith("recovery."):
                    bound["recovery"] = "recovery"  # `import recovery.x.y` binds `recovery`
        elif isinstance(node, ast.ImportFrom):
            module = absolute(node, importer=importer, is_package=is_package)
            for alias in node.names:
                target = f"{module}.{alias.name}"
                if foreign(module) and is_private(alias.name):
                    found.append(f"{node.lineno}: from {module} import {alias.name}")
                elif foreign(target):
                    bound[alias.asname or alias.name] = target
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        chain = dotted(node.value)
        if not chain or chain[0] not in bound:
            continue
        owner = ".".join([bound[chain[0]], *chain[1:]])
        if foreign(owner) and is_module(owner):
            found.append(f"{node.lineno}: {owner}.{node.attr}")
    return sorted(set(found), key=lambda line: int(line.split(":")[0]))


def recovery_modules() -> list[Path]:
    return sorted(p for p in RECOVERY.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", recovery_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_uses_another_domains_private_names(path):
    found = crossings(path.read_text(), importer=module_name(path), is_package=path.name == "__init__.py")
    assert not found, f"{path.relative_to(ROOT)} uses another domain's private names: {found}"


# --- the checker itself ----------------------------------------------------------------------------


def test_every_domain_is_a_package():
    assert {p.parent.name for p in RECOVERY.glob("*/__init__.py")} >= DOMAINS


@pytest.mark.parametrize(
    "source",
    [
        "from recovery.care.services import _visible",
        "from recovery.care import _rule",
        "from ..care.services import _visible",
        "from recovery.care import services\nservices._visible()",
        "from recovery.care import services as care\ncare._visible()",
        "import recovery.care.services as care\ncare._visible()",
        "import recovery.care.services\nrecovery.care.services._visible()",
        "from recovery import care\ncare.services._visible()",
        "def f():\n    from recovery.care import selectors\n    return selectors._query",
    ],
)
def test_the_checker_catches_a_private_name_used_across_domains(source):
    assert crossings(source, importer="recovery.episodes.services")


@pytest.mark.parametrize(
    "source",
    [
        "from recovery.episodes.selectors import _own",  # its own domain
        "from ._helpers import _own",
        "from recovery.care.services import care_link_get",  # a public name
        "from recovery.care.models import CareLink\nCareLink._meta",  # Django's API on a model, not the module
        "from recovery.care import services\nservices.__name__",
        "from recovery.api.common import _helper",  # recovery/api/ is no domain
    ],
)
def test_the_checker_allows_public_names_and_its_own_domain(source):
    assert not crossings(source, importer="recovery.episodes.services")
