"""Architecture contracts that an import-linter deny-list cannot express."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import spyagency.domain

DOMAIN = Path(spyagency.domain.__file__).parent


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append("spyagency.domain")  # relative: stays inside the package
    return found


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    modules = sorted(DOMAIN.rglob("*.py"))
    assert len(modules) > 10
    wrong = [
        f"{path.relative_to(DOMAIN)}: {name}"
        for path in modules
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name != "spyagency.domain"
        and not name.startswith("spyagency.domain.")
    ]
    assert wrong == []


def test_the_check_itself_bites(tmp_path: Path) -> None:
    bad = tmp_path / "verdict.py"
    bad.write_text("import jinja2\nfrom spyagency.simulator import world\nimport json\n")
    names = _imports(bad)
    assert [n for n in names if n.split(".")[0] not in sys.stdlib_module_names] == [
        "jinja2",
        "spyagency.simulator",
    ]
