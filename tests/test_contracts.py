"""The import contracts in ``pyproject.toml`` bite: each forbidden import breaks its contract.

A contract that stays green whatever one writes protects nothing. Each case copies the package
into a temporary directory, adds one forbidden import to the copy and runs ``lint-imports``
against it with the repository's own configuration: the run must fail, name exactly the
contracts the import breaks, and quote the offending import under each of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import spyagency

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGE = Path(spyagency.__file__).parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

LAYERS = "Layers point one way"
SIMULATOR_ALONE = "The simulator never imports the code it tests"
PURE_DOMAIN = "The domain is pure standard library"
NO_SIMULATOR = "Only the harness and the command line run the simulator"
WEB_THROUGH_STORE = "The web layer reads through the store's repositories"


@dataclass(frozen=True)
class Break:
    module: str  # path inside the package
    line: str  # the forbidden import appended to it
    importer: str
    imported: str
    breaks: frozenset[str]


CASES = [
    Break(
        "domain/verdict.py",
        "import jinja2",
        "spyagency.domain.verdict",
        "jinja2",
        frozenset({PURE_DOMAIN}),
    ),
    Break(
        "domain/verdict.py",
        "import spyagency.simulator.world",
        "spyagency.domain.verdict",
        "spyagency.simulator.world",
        frozenset({PURE_DOMAIN, NO_SIMULATOR}),
    ),
    Break(
        "engine/evaluator.py",
        "import spyagency.simulator",
        "spyagency.engine.evaluator",
        "spyagency.simulator",
        frozenset({NO_SIMULATOR}),
    ),
    Break(
        "store/schema.py",
        "import spyagency.web",
        "spyagency.store.schema",
        "spyagency.web",
        frozenset({LAYERS}),
    ),
    Break(
        "logs.py",
        "import spyagency.engine",
        "spyagency.logs",
        "spyagency.engine",
        frozenset({LAYERS}),
    ),
    Break(
        "simulator/world.py",
        "import spyagency.domain",
        "spyagency.simulator.world",
        "spyagency.domain",
        frozenset({SIMULATOR_ALONE}),
    ),
    Break(
        "web/api/runs.py",
        "import sqlalchemy",
        "spyagency.web.api.runs",
        "sqlalchemy",
        frozenset({WEB_THROUGH_STORE}),
    ),
    Break(
        "web/api/runs.py",
        "from spyagency.store import schema",
        "spyagency.web.api.runs",
        "spyagency.store.schema",
        frozenset({WEB_THROUGH_STORE}),
    ),
]


def _copy_sources(target: Path) -> Path:
    """Only the Python files: templates and vendored scripts mean nothing to the import graph."""

    def not_python(directory: str, names: list[str]) -> set[str]:
        return {
            name
            for name in names
            if name == "__pycache__"
            or (not name.endswith(".py") and not Path(directory, name).is_dir())
        }

    copy = target / "src" / "spyagency"
    shutil.copytree(PACKAGE, copy, ignore=not_python)
    shutil.copy(REPOSITORY / "pyproject.toml", target / "pyproject.toml")
    return copy


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, so it shadows the installed package; the repository
    # root follows for the contract type in tests/import_contracts.py.
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(REPOSITORY)]),
    }
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _broken_contracts(report: str) -> dict[str, str]:
    """Each broken contract's name and the details printed under it."""
    broken = re.findall(r"^(.+) BROKEN\b", report, flags=re.MULTILINE)
    details = report.partition("Broken contracts\n----------------\n")[2]
    # A contract's section starts with its name underlined by dashes of the same length.
    headings = [
        (match.start(), match.group(1))
        for match in re.finditer(r"^(.+)\n-+\n", details, flags=re.MULTILINE)
        if match.group(1) in broken
    ]
    ends = [start for start, _ in headings[1:]] + [len(details)]
    return {name: details[start:end] for (start, name), end in zip(headings, ends, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.importer}->{case.imported}")
def test_a_forbidden_import_breaks_its_contract(case: Break, tmp_path: Path) -> None:
    copy = _copy_sources(tmp_path)
    module = copy / case.module
    module.write_text(module.read_text("utf-8") + f"\n{case.line}\n", "utf-8")
    line_number = len(module.read_text("utf-8").splitlines())

    result = _lint_imports(tmp_path)

    assert result.returncode != 0, result.stdout
    broken = _broken_contracts(result.stdout)
    assert set(broken) == case.breaks, result.stdout
    for name in case.breaks:
        assert re.search(
            rf"{re.escape(case.importer)} -> {re.escape(case.imported)} \(l\.{line_number}\b",
            broken[name],
        ), f"{name} does not quote the import:\n{broken[name]}"


def test_the_unbroken_copy_keeps_every_contract(tmp_path: Path) -> None:
    """The cases above fail because of their import, not because the copy is unlike the original."""
    _copy_sources(tmp_path)

    result = _lint_imports(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
