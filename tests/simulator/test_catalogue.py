"""The simulator's PCL catalogue against the agency's: the same destination tags per output.

The domain catalogue is read as a data file (TOML), never imported: the simulator must not
depend on the code it tests.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from spyagency.simulator.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[2]
SIMULATOR_TOML = ROOT / "src" / "spyagency" / "simulator" / "catalogue.toml"
DOMAIN_TOML = ROOT / "src" / "spyagency" / "domain" / "catalogue.toml"


def load(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def domain_tags(workflow: dict[str, Any], input_tag: str) -> list[str]:
    """The domain's destination tags for one input tag of a workflow: all of them for a
    workflow with one input tag; the tag at the same position where each input tag has one
    destination (SiPixelQuality's three payloads)."""
    inputs: list[str] = workflow["input_tags"]
    tags: list[str] = workflow["destination_tags"]
    if len(inputs) == 1:
        return tags
    assert len(tags) == len(inputs), "several input tags need one destination each"
    return [tags[inputs.index(input_tag)]]


def test_every_simulator_output_has_the_domain_destination_tags() -> None:
    simulator = load(SIMULATOR_TOML)["workflows"]
    domain = load(DOMAIN_TOML)["workflow"]
    assert set(simulator) <= set(domain)
    for name, workflow in simulator.items():
        expected = domain[name]
        inputs = [out["input_tag"] for out in workflow["outputs"]]
        assert inputs == expected["input_tags"], name
        for out in workflow["outputs"]:
            tags = domain_tags(expected, out["input_tag"])
            assert out["destination_tags"] == tags, (name, out["input_tag"])
            assert out["time_type"] == expected["time_type"].lower(), name
            assert out["synchronization"] == expected.get("synchronization", "pcl"), name
    two = {
        name: out["destination_tags"]
        for name, workflow in simulator.items()
        for out in workflow["outputs"]
        if len(out["destination_tags"]) > 1
    }
    assert two == {
        "SiStripGains": ["SiStripApvGain_PCL_v0_hlt", "SiStripApvGain_PCL_v0_prompt"],
        "SiStripGainsAAG": [
            "SiStripApvGainAfterAbortGap_PCL_v0_hlt",
            "SiStripApvGainAfterAbortGap_PCL_v0_prompt",
        ],
        "SiPixelAli": ["SiPixelAli_PCL_v0_hlt_off", "TrackerAlignment_PCL_byRun_v2_express_off"],
    }


def test_the_loaded_catalogue_keeps_every_tag_of_an_output() -> None:
    raw = load(SIMULATOR_TOML)["workflows"]
    catalogue = load_catalogue()
    seen: set[str] = set()
    for workflows in catalogue.workflows_by_producer.values():
        for wf in workflows:
            written = [tuple(out["destination_tags"]) for out in raw[wf.name]["outputs"]]
            assert [out.destination_tags for out in wf.outputs] == written
            for out in wf.outputs:
                assert out.prompt_gt_tag in out.destination_tags
                seen.update(out.destination_tags)
    # Every tag once, each with the output whose time type and synchronization it takes.
    tags = catalogue.destination_tags()
    assert set(tags) == seen
    for tag, out in tags.items():
        assert tag in out.destination_tags
