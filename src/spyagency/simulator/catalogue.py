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
    """One sqlite output of a harvest workflow and where it must land in the CondDB.

    One upload of the output writes its IOVs into every destination tag; all of them share
    the output's time type and synchronization (one ``_prod.json`` per input tag says both).
    """

    input_tag: str
    time_type: TimeType
    destination_tags: tuple[str, ...]
    synchronization: str
    record: str
    label: str
    object_type: str

    @property
    def prompt_gt_tag(self) -> str:
        """The tag the Prompt global tag maps for this record and label. A global tag maps
        one tag per record and label; of several destinations the Prompt GT takes the one
        PromptReco reads (``_prompt``, else ``_express``); the others serve the HLT and
        Express global tags, which the simulator does not model."""
        for mark in ("prompt", "express"):
            for tag in self.destination_tags:
                if mark in tag.lower():
                    return tag
        return self.destination_tags[0]


@dataclass(frozen=True)
class HarvestWorkflow:
    name: str
    producer: str
    dqm_folder: str
    is_alignment: bool
    outputs: tuple[PclOutput, ...]
    # Whether its DQM statusResults has a "DB update vetoed" bin (SiPixelAli); only then can
    # a declined update be told apart as a veto. Last, with a default: built positionally.
    veto_bin: bool = False
    # This workflow's own spread (ADR 11 needs each workflow to differ): its upload delay after
    # the harvest is the scenario's ``upload_after_harvest_minutes`` draw times
    # ``latency_scale``; its chance of an upload error the scenario's ``upload_error_rate``
    # times ``failure_scale``.
    latency_scale: float = 1.0
    failure_scale: float = 1.0


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
                    for tag in out.destination_tags:
                        tags.setdefault(tag, out)
        return tags


def _output(raw: dict[str, Any]) -> PclOutput:
    time_type = raw["time_type"]
    if time_type not in ("run", "lumi"):
        raise ValueError(f"unknown IOV time type {time_type!r}")
    tags = raw["destination_tags"]
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"{raw['input_tag']}: destination_tags must list at least one tag")
    if len(set(tags)) != len(tags):
        raise ValueError(f"{raw['input_tag']}: destination_tags lists a tag twice")
    return PclOutput(
        input_tag=raw["input_tag"],
        time_type=time_type,
        destination_tags=tuple(tags),
        synchronization=raw["synchronization"],
        record=raw["record"],
        label=raw.get("label", ""),
        object_type=raw["object_type"],
    )


def _scale(raw: dict[str, Any], key: str) -> float:
    value = float(raw.get(key, 1.0))
    if not 0.0 < value <= 100.0:
        raise ValueError(f"{key} must lie in (0, 100], not {value}")
    return value


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
                veto_bin=bool(workflows[name].get("veto_bin", False)),
                latency_scale=_scale(workflows[name], "latency_scale"),
                failure_scale=_scale(workflows[name], "failure_scale"),
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
