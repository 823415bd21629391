"""The workflow catalogue: which PCL workflows exist and how to recognise their traces.

Shipped as editable data (``catalogue.toml`` beside this module); an operator may point the
configuration at another file. docs/protocols.md ("The workflow catalogue") lists the
sources of these names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from spyagency.domain.iov import TimeType

PCL_PRODUCER_PREFIX = "PromptCalibProd"
# What quality evidence the PCL publishes for a workflow: "alignment" (the MillePede
# ``statusResults`` bins and pede's exit message in its ALCAPROMPT DQM folder) or "none".
# The harvesting paths run no quality tests, so most workflows publish none.
QUALITY_KINDS = ("none", "alignment")


@dataclass(frozen=True)
class WorkflowSpec:
    """One calibration workflow: its producer, its files, its tags, when a run needs it."""

    name: str
    producer: str
    streams: tuple[str, ...]
    input_tags: tuple[str, ...]
    time_type: TimeType
    destination_tags: tuple[str, ...] = ()
    synchronization: str = "pcl"
    dqm_folder: str | None = None
    needs_components: tuple[str, ...] = ()
    needs_magnet_on: bool = False
    vetoable: bool = False
    description: str = ""
    quality: str = "none"

    @property
    def has_quality_evidence(self) -> bool:
        return self.quality != "none"

    @property
    def primary_input_tag(self) -> str:
        return self.input_tags[0]

    def dqm_dataset(self, era: str, stream: str, proc_version: int) -> str:
        """The ALCAPROMPT dataset the DQM GUI files this workflow's harvest under; its
        version is the stream's ``express_config.proc_version``, never assumed."""
        return f"/Stream{stream}/{era}-{self.producer}-Express-v{proc_version}/ALCAPROMPT"


@dataclass(frozen=True)
class Catalogue:
    workflows: tuple[WorkflowSpec, ...]
    _by_producer: Mapping[str, tuple[WorkflowSpec, ...]] = field(
        init=False, repr=False, compare=False
    )
    _by_name: Mapping[str, WorkflowSpec] = field(init=False, repr=False, compare=False)
    _by_input_tag: Mapping[str, WorkflowSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.workflows]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"workflow names must be unique; repeated: {sorted(duplicates)}")
        by_producer: dict[str, list[WorkflowSpec]] = {}
        for spec in self.workflows:
            by_producer.setdefault(spec.producer, []).append(spec)
        object.__setattr__(
            self, "_by_producer", {p: tuple(specs) for p, specs in by_producer.items()}
        )
        object.__setattr__(self, "_by_name", {s.name: s for s in self.workflows})
        object.__setattr__(
            self,
            "_by_input_tag",
            {tag: s for s in self.workflows for tag in s.input_tags},
        )

    def for_producer(self, producer: str) -> tuple[WorkflowSpec, ...]:
        """The harvest workflows of one producer (``PromptCalibProd`` harvests two)."""
        return self._by_producer.get(producer, ())

    def by_name(self, name: str) -> WorkflowSpec | None:
        return self._by_name.get(name)

    def by_input_tag(self, input_tag: str) -> WorkflowSpec | None:
        return self._by_input_tag.get(input_tag)

    def names(self) -> list[str]:
        return [spec.name for spec in self.workflows]


def pcl_producers(alca_skim: Iterable[str]) -> list[str]:
    """Keep the PCL producers of an ``alca_skim`` list; the other skims are not calibrations."""
    return [p.strip() for p in alca_skim if p.strip().startswith(PCL_PRODUCER_PREFIX)]


def _spec_from_table(name: str, table: Mapping[str, Any]) -> WorkflowSpec:
    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"workflow {name}: {key} must be a list of strings")
        return tuple(value)

    try:
        producer = str(table["producer"])
        time_type = TimeType.parse(str(table.get("time_type", "Run")))
    except KeyError as missing:
        raise ValueError(f"workflow {name}: missing key {missing}") from None
    input_tags = strings("input_tags")
    if not input_tags:
        raise ValueError(f"workflow {name}: input_tags must name at least one sqlite tag")
    dqm_folder = table.get("dqm_folder")
    quality = str(table.get("quality", "none"))
    if quality not in QUALITY_KINDS:
        raise ValueError(f"workflow {name}: quality must be one of {', '.join(QUALITY_KINDS)}")
    if quality != "none" and dqm_folder is None:
        raise ValueError(f"workflow {name}: quality evidence needs a dqm_folder")
    return WorkflowSpec(
        name=name,
        producer=producer,
        streams=strings("streams"),
        input_tags=input_tags,
        time_type=time_type,
        destination_tags=strings("destination_tags"),
        synchronization=str(table.get("synchronization", "pcl")),
        dqm_folder=str(dqm_folder) if dqm_folder is not None else None,
        needs_components=strings("needs_components"),
        needs_magnet_on=bool(table.get("needs_magnet_on", False)),
        vetoable=bool(table.get("vetoable", False)),
        description=str(table.get("description", "")),
        quality=quality,
    )


def parse_catalogue(document: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from a parsed TOML document (``[workflow.<name>]`` tables)."""
    tables = document.get("workflow")
    if not isinstance(tables, dict) or not tables:
        raise ValueError("a catalogue needs at least one [workflow.<name>] table")
    return Catalogue(tuple(_spec_from_table(name, t) for name, t in tables.items()))


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read the catalogue from ``path``, or the one shipped with the package."""
    if path is None:
        text = resources.files("spyagency.domain").joinpath("catalogue.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return parse_catalogue(tomllib.loads(text))
