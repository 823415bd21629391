"""The PCL workflow catalogue (streams, producers, harvest workflows, outputs), read from data.

The mapping lives in ``catalogue.toml`` so that it reads like the upstream configuration and can
be changed without touching code.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

TimeType = Literal["run", "lumi"]


@dataclass(frozen=True)
class PclOutput:
    """One sqlite output of a harvest workflow and where it must land in the CondDB."""

    input_tag: str
    time_type: TimeType
    destination_tag: str
    synchronization: str
    record: str
    label: str
    object_type: str


@dataclass(frozen=True)
class HarvestWorkflow:
    name: str
    producer: str
    dqm_folder: str
    is_alignment: bool
    outputs: tuple[PclOutput, ...]


@dataclass(frozen=True)
class StreamSpec:
    name: str
    run_class: Literal["collisions", "cosmics"]
    pcl_producers: tuple[str, ...]
    other_producers: tuple[str, ...]
    dqm_seq: str

    @property
    def alca_skim(self) -> str:
        """The comma list that express_config shows, PCL and non-PCL producers mixed."""
        return ",".join(self.pcl_producers + self.other_producers)


@dataclass(frozen=True)
class Catalogue:
    streams: dict[str, StreamSpec]
    workflows_by_producer: dict[str, tuple[HarvestWorkflow, ...]]

    def streams_for(self, run_class: str) -> list[StreamSpec]:
        return [s for s in self.streams.values() if s.run_class == run_class]

    def workflows_of(self, stream: StreamSpec) -> list[HarvestWorkflow]:
        return [wf for p in stream.pcl_producers for wf in self.workflows_by_producer[p]]

    def destination_tags(self) -> dict[str, PclOutput]:
        """Every destination tag once, with the output that defines its time type and sync."""
        tags: dict[str, PclOutput] = {}
        for workflows in self.workflows_by_producer.values():
            for wf in workflows:
                for out in wf.outputs:
                    tags.setdefault(out.destination_tag, out)
        return tags


def _output(raw: dict[str, Any]) -> PclOutput:
    time_type = raw["time_type"]
    if time_type not in ("run", "lumi"):
        raise ValueError(f"unknown IOV time type {time_type!r}")
    return PclOutput(
        input_tag=raw["input_tag"],
        time_type=time_type,
        destination_tag=raw["destination_tag"],
        synchronization=raw["synchronization"],
        record=raw["record"],
        label=raw.get("label", ""),
        object_type=raw["object_type"],
    )


@functools.cache
def load_catalogue() -> Catalogue:
    text = resources.files(__package__).joinpath("catalogue.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    workflows: dict[str, dict[str, Any]] = raw["workflows"]
    by_producer: dict[str, tuple[HarvestWorkflow, ...]] = {}
    for producer, names in raw["producers"].items():
        by_producer[producer] = tuple(
            HarvestWorkflow(
                name=name,
                producer=producer,
                dqm_folder=workflows[name]["dqm_folder"],
                is_alignment=workflows[name].get("kind") == "alignment",
                outputs=tuple(_output(o) for o in workflows[name]["outputs"]),
            )
            for name in names
        )
    streams = {
        name: StreamSpec(
            name=name,
            run_class=spec["run_class"],
            pcl_producers=tuple(spec["pcl_producers"]),
            other_producers=tuple(spec["other_producers"]),
            dqm_seq=spec["dqm_seq"],
        )
        for name, spec in raw["streams"].items()
    }
    return Catalogue(streams=streams, workflows_by_producer=by_producer)
