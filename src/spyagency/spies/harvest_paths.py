"""Where harvest files sit in the harvest area and how their paths are put together.

The area holds one folder per year (``<root>/<year>/``); a harvest output is up to three
files of one stem in its year's folder, told apart by their kind (the ``.db`` payload, the
``.txt`` metadata, the ``.txt.uploaded`` marker; the name grammar itself is
``harvest_files.parse_file_name``). The scope names files as ``<year>/<file name>``. The
files of one output differ only by their kind, so the path of a file an output lacks is
its known file's path with the kind swapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spyagency.spies.harvest_files import HarvestStem
from spyagency.spies.scope import PollScope

YEAR_DIR = re.compile(r"^[0-9]{4}$")
HARVEST_KINDS = ("db", "txt", "txt.uploaded")
Stamp = tuple[int, int]  # (mtime in ns, size)
Parsed = tuple[HarvestStem, str]  # (stem, kind)


@dataclass
class HarvestOutput:
    """The files of one harvest output found in this scan."""

    # Plain strings: a scan stats every file of the runs in scope, and building a Path for
    # each would cost more than the stat; a Path is made only for a file that is read.
    files: dict[str, str] = field(default_factory=dict)
    stamps: dict[str, Stamp] = field(default_factory=dict)

    def path(self, kind: str) -> Path:
        return Path(self.files[kind])

    @property
    def pending(self) -> bool:
        """Half an output: its partner file is still to come."""
        return ("db" in self.files) != ("txt" in self.files)

    def lacking(self) -> Iterator[tuple[str, str]]:
        """(kind, path) of each file this output does not have (yet)."""
        kind, path = next(iter(self.files.items()))
        base = path[: -len(kind)]  # ends with the dot
        for missing in HARVEST_KINDS:
            if missing not in self.files:
                yield missing, base + missing


def named_by_year(scope: PollScope) -> dict[str, list[str]]:
    """The harvest files the scope names (``RunScope.harvest_outputs``), by year folder."""
    named: dict[str, list[str]] = {}
    for run in scope.runs:
        for entry in run.harvest_outputs:
            year, _, name = entry.partition("/")
            named.setdefault(year, []).append(name)
    return named
