"""Read faults: for hours, what the agency reads about one item is wrong, though nothing wrong
happened to it (a garbled harvest file, answers cut in half, a DQM folder not there, an
upload log unknown or IOVs late). Each hits exactly its item, for its window, is recorded,
and leaves the truth as it was (a late IOV moves it by exactly its delay)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import httpx2
import pytest

from spyagency.simulator.app import build_app
from spyagency.simulator.clock import ManualClock
from spyagency.simulator.dqm_content import contents_for, dataset_name
from spyagency.simulator.faultkinds import ITEM_READ_FAULTS, ITEM_WORLD_FAULTS
from spyagency.simulator.harvest_files import (
    metadata_text,
    sqlite_image,
    upload_tarball,
    year_dir,
)
from spyagency.simulator.plan import OutputPlan, ReadFault, RunPlan, StreamPlan, WorkflowPlan
from spyagency.simulator.planner import plan_world
from spyagency.simulator.scenario import HOUR, Scenario, load_scenario
from spyagency.simulator.timefmt import sqlite_timestamp
from spyagency.simulator.truth import world_truth
from spyagency.simulator.world import World

LATER = 72 * HOUR  # past every upload of the quiet day and the lock-ins of its runs


def only(kind: str | None, rates: dict[str, float] | None = None) -> Scenario:
    """The quiet day without random HTTP faults, with ``kind`` forced once (None: no read
    fault) and the given item rates."""
    quiet = load_scenario("quiet_day")
    faults = dataclasses.replace(
        quiet.faults,
        http_rates={},
        service_rates={},
        item_rates=dict(rates or {}),
        ensure_items=() if kind is None else (kind,),
    )
    return quiet.replace(faults=faults)


def read_faults(plan: list[RunPlan], kind: str | None = None) -> list[ReadFault]:
    return [f for run in plan for f in run.read_faults if kind is None or f.kind == kind]


def the_fault(world: World, kind: str) -> ReadFault:
    (fault,) = read_faults(world.plan, kind)
    return fault


def output_of(world: World, fault: ReadFault) -> OutputPlan:
    return next(o for o in world.runs[fault.run].all_outputs() if o.key == fault.item)


def notes(world: World, kind: str) -> list[Any]:
    return [f for f in world.faults.injected if f.kind == kind]


def provable_times(world: World) -> dict[tuple[int, str, str, str], float | None]:
    """Every required calibration's ``provable_at`` and every run's, from the truth."""
    truth = world_truth(world, world.releaser.records, world.faults.injected)
    times: dict[tuple[int, str, str, str], float | None] = {}
    for run in truth["runs"]:
        times[(run["run"], "", "", "")] = run["provable_at"]
        for row in run["required"]:
            key = (run["run"], row["stream"], row["workflow"], row["input_tag"])
            times[key] = row["provable_at"]
    return times


def clean_truth(kind: str, root: Path) -> dict[tuple[int, str, str, str], float | None]:
    """The provable times of the same world without the fault."""
    clean = World(only(None), root)
    clean.advance_to(clean.scenario.start + LATER)
    return provable_times(clean)


class InProcess:
    """The simulator's HTTP services in process, on a manual clock the test moves."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clock = ManualClock(world.scenario.start)
        self.app = build_app(world, self.clock)

    def at(self, t: float) -> None:
        """Move the clock and materialise the world up to it (requests would do it too)."""
        self.clock.set(t)
        self.world.advance_to(t)

    def get(self, path: str, **params: object) -> httpx2.Response:
        async def fetch() -> httpx2.Response:
            transport = httpx2.ASGITransport(app=self.app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://sim") as client:
                return await client.get(path, params={k: str(v) for k, v in params.items()})

        return asyncio.run(fetch())


def is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def dqm_folder_url(world: World, run: int, stream: str, wf: WorkflowPlan) -> str:
    dataset = dataset_name(stream, world.scenario.tier0.acq_era, wf.workflow.producer)
    return f"/dqm/offline/data/json/archive/{run}{dataset}/{wf.workflow.dqm_folder}"


def harvested(run: RunPlan) -> list[tuple[StreamPlan, WorkflowPlan]]:
    return [
        (stream, wf)
        for stream in run.streams
        if stream.harvest is not None and not stream.harvest.failed
        for wf in stream.harvest.workflows
    ]


# --- planning --------------------------------------------------------------------------------


def test_read_faults_change_nothing_else_of_the_plan() -> None:
    rates = dict.fromkeys(ITEM_READ_FAULTS, 0.5)
    faulty, clean = plan_world(only(None, rates)), plan_world(only(None))
    assert read_faults(faulty) and not read_faults(clean)
    assert [dataclasses.replace(r, read_faults=()) for r in faulty] == clean
    assert plan_world(only(None, rates)) == faulty, "seeded: the same plan every time"


def test_a_higher_rate_hits_the_same_items_and_more() -> None:
    def hit(rate: float) -> set[tuple[str, int, str]]:
        plan = plan_world(only(None, dict.fromkeys(ITEM_READ_FAULTS, rate)))
        return {(f.kind, f.run, f.item) for f in read_faults(plan)}

    low, high = hit(0.2), hit(0.6)
    assert low < high
    assert {kind for kind, _, _ in low} == set(ITEM_READ_FAULTS)


def test_rates_draw_every_variant_and_windows_of_hours() -> None:
    plan = plan_world(only(None, dict.fromkeys(ITEM_READ_FAULTS, 1.0)))
    faults = read_faults(plan)
    assert {f.variant for f in faults if f.kind == "late_item"} == {"log", "iov", "log+iov"}
    assert {f.variant for f in faults if f.kind == "corrupt_harvest_file"} == {"db", "db+txt"}
    assert all(1 * HOUR <= f.duration_s <= 6 * HOUR for f in faults)
    outputs = [o for run in plan for o in run.all_outputs()]
    per_output = [f for f in faults if f.kind in ("corrupt_harvest_file", "late_item")]
    assert len(per_output) == 2 * len(outputs), "rate 1: every output, once per kind"


@pytest.mark.parametrize("kind", ITEM_READ_FAULTS)
def test_ensure_forces_one_read_fault_and_nothing_else(kind: str) -> None:
    plan = plan_world(only(kind))
    assert [f.kind for f in read_faults(plan)] == [kind]
    assert not {k for run in plan for o in run.all_outputs() for k in o.faults}


def test_the_item_faults_draw_as_before() -> None:
    """Adding the read kinds to ``ITEM_FAULTS`` left the world faults' stream alone."""
    bad = load_scenario("bad_day")
    world_only = dataclasses.replace(
        bad.faults,
        item_rates={k: v for k, v in bad.faults.item_rates.items() if k in ITEM_WORLD_FAULTS},
        ensure_items=tuple(k for k in bad.faults.ensure_items if k in ITEM_WORLD_FAULTS),
    )
    assert [dataclasses.replace(r, read_faults=()) for r in plan_world(bad)] == plan_world(
        bad.replace(faults=world_only)
    )


# --- corrupt_harvest_file --------------------------------------------------------------------


def test_a_corrupt_harvest_file_reads_as_garbage_for_its_window(tmp_path: Path) -> None:
    world = World(only("corrupt_harvest_file"), tmp_path / "faulty")
    fault = the_fault(world, "corrupt_harvest_file")
    out = output_of(world, fault)
    run = world.runs[fault.run]
    folder = year_dir(world.harvest_dir, run.start)
    db, txt = folder / f"{out.file_stem}.db", folder / f"{out.file_stem}.txt"
    image, text = sqlite_image(out), metadata_text(out)

    def readable(path: Path) -> bool:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                conn.execute("SELECT COUNT(*) FROM IOV").fetchall()
        except sqlite3.DatabaseError:
            return False
        return True

    assert fault.start == out.created_at
    world.advance_to(fault.start)
    for moment in (fault.start, fault.end - 1):
        world.advance_to(moment)
        assert not readable(db) and db.read_bytes() != image
        assert len(db.read_bytes()) != len(image), "a reader of (mtime, size) sees the change"
        expected_txt = text[: len(text) // 2] if fault.variant == "db+txt" else text
        assert txt.read_text() == expected_txt
        assert os.stat(db).st_mtime == out.created_at, "the harvest's moment stays true"
        others = [r for r in world.files.values() if r.out.key != out.key]
        assert others and all(readable(folder / f"{r.out.file_stem}.db") for r in others), (
            "only the chosen output is garbled"
        )
    record = world.files[out.key]
    assert record.file_hash == hashlib.sha1(upload_tarball(image, out)).hexdigest()
    world.advance_to(fault.end)
    assert db.read_bytes() == image and txt.read_text() == text
    assert os.stat(db).st_mtime == out.created_at
    (note,) = notes(world, "corrupt_harvest_file")
    assert note.run == out.run and note.at == fault.start and out.file_stem in note.detail
    world.advance_to(world.scenario.start + LATER)
    assert record.verdict is not None, "the Tier-0's own copy uploads as planned"
    assert provable_times(world) == clean_truth("corrupt_harvest_file", tmp_path / "clean")


# --- truncated_item --------------------------------------------------------------------------


def test_a_truncated_item_cuts_every_dqm_and_jobdetail_answer_of_its_run(tmp_path: Path) -> None:
    world = World(only("truncated_item"), tmp_path / "faulty")
    sim = InProcess(world)
    fault = the_fault(world, "truncated_item")
    run = world.runs[fault.run]
    other = next(
        r for r in world.plan if r.number != run.number and harvested(r) and r.stop < fault.start
    )
    stream, wf = (harvested(run) or harvested(other))[0]
    folder = dqm_folder_url(world, run.number, stream.stream, wf)
    other_stream, other_wf = harvested(other)[0]
    other_folder = dqm_folder_url(world, other.number, other_stream.stream, other_wf)
    requests = [s.request_name for s in run.streams]
    fairy = folder.replace("/data/json/", "/jsonfairy/") + "/statusResults"

    def cut_now() -> list[bool]:
        answers = [sim.get(folder, rootcontent=1), sim.get(fairy)]
        answers += [sim.get(f"/t0_reqmon/data/jobdetail/{name}") for name in requests]
        assert all(a.status_code == 200 for a in answers)
        # The GUI's export error text is no JSON either: only the JSON answers tell.
        return [not is_json(a.content) for a in answers if a is not answers[1]]

    sim.at(fault.start - 1)
    assert not any(cut_now())
    for moment in (fault.start, fault.end - 1):
        sim.at(moment)
        assert all(cut_now())
        assert is_json(sim.get(other_folder, rootcontent=1).content), "other runs answer whole"
        assert is_json(sim.get(f"/t0_reqmon/data/jobdetail/{other_stream.request_name}").content)
    cut = sim.get(folder, rootcontent=1).content
    sim.at(fault.end)
    assert not any(cut_now())
    whole = sim.get(folder, rootcontent=1).content
    assert cut == whole[: len(whole) // 2]
    (note,) = notes(world, "truncated_item")
    assert note.run == run.number and note.at == fault.start
    world.advance_to(world.scenario.start + LATER)
    assert provable_times(world) == clean_truth("truncated_item", tmp_path / "clean")


# --- missing_folder --------------------------------------------------------------------------


def test_a_missing_folder_is_answered_as_an_unknown_one(tmp_path: Path) -> None:
    world = World(only("missing_folder"), tmp_path / "faulty")
    sim = InProcess(world)
    fault = the_fault(world, "missing_folder")
    run = world.runs[fault.run]
    pairs = harvested(run)
    stream, wf = next((s, w) for s, w in pairs if w.workflow.name == fault.item)
    folder = dqm_folder_url(world, run.number, stream.stream, wf)
    siblings = [
        dqm_folder_url(world, run.number, s.stream, w)
        for s, w in pairs
        if w.workflow.name != fault.item and s.stream == stream.stream  # harvested together
    ]
    assert siblings and fault.start == stream.harvest.at  # type: ignore[union-attr]
    sim.at(fault.start)
    for moment in (fault.start, fault.end - 1):
        sim.at(moment)
        assert sim.get(folder, rootcontent=1).json() == {"contents": []}
        assert all(sim.get(url, rootcontent=1).json()["contents"] for url in siblings)
        if wf.workflow.is_alignment:
            export = sim.get(folder.replace("/data/json/", "/jsonfairy/") + "/statusResults")
            assert export.text.startswith("unable to produce a json")
    sim.at(fault.end)
    shown = sim.get(folder, rootcontent=1).json()["contents"]
    assert shown == contents_for(run, wf, wf.workflow.dqm_folder)
    (note,) = notes(world, "missing_folder")
    assert note.run == run.number and fault.item in note.detail and note.at == fault.start
    world.advance_to(world.scenario.start + LATER)
    assert provable_times(world) == clean_truth("missing_folder", tmp_path / "clean")


# --- late_item -------------------------------------------------------------------------------


def iov_rows(world: World, out: OutputPlan) -> list[tuple[str, str]]:
    hashes = {iov.payload_hash for iov in out.iovs}
    with sqlite3.connect(world.condb.path) as conn:
        rows = conn.execute("SELECT TAG_NAME, INSERTION_TIME, PAYLOAD_HASH FROM IOV").fetchall()
    return [(tag, stamp) for tag, stamp, payload in rows if payload in hashes]


def test_a_late_item_hides_its_log_and_withholds_its_iovs(tmp_path: Path) -> None:
    world = World(only("late_item"), tmp_path / "faulty")
    sim = InProcess(world)
    fault = the_fault(world, "late_item")
    assert fault.variant == "log+iov", "a forced late item is late both ways"
    out = output_of(world, fault)
    finished = out.upload_at + out.processing_s  # no CondDB block on the quiet day
    inserted = finished + fault.duration_s
    sim.at(out.created_at + 1)
    file_hash = world.files[out.key].file_hash
    url = "/logs/dropBox/getFileLog"
    sibling = next(
        o for o in world.runs[out.run].all_outputs() if o.key != out.key and o.upload_at < finished
    )
    for moment in (out.upload_at, finished, fault.end - 1):
        sim.at(moment)
        assert sim.get(url, fileHash=file_hash).status_code == 500
        assert sim.get(url, fileHash=world.files[sibling.key].file_hash).status_code == 200
    record = world.files[out.key]
    assert record.verdict == "ok" and "4999" in world.upload_logs[file_hash].text()
    sim.at(fault.end)
    assert "4999" in sim.get(url, fileHash=file_hash).text
    assert iov_rows(world, out) == [] and record.inserted_at is None
    sim.at(inserted - 1)
    assert iov_rows(world, out) == []
    sim.at(inserted)
    stamp = sqlite_timestamp(inserted)
    rows = iov_rows(world, out)
    assert {tag for tag, _ in rows} == set(out.spec.destination_tags)
    assert {at for _, at in rows} == {stamp}, "written when it became visible, not before"
    assert world.files[out.key].inserted_at == inserted
    assert [n.at for n in notes(world, "late_item")] == [out.upload_at, finished]
    world.advance_to(world.scenario.start + LATER)
    faulty, clean = provable_times(world), clean_truth("late_item", tmp_path / "clean")
    row = (out.run, out.stream, out.workflow, out.spec.input_tag)
    assert clean[row] == finished and faulty[row] == inserted, "the truth moves with the IOV"
    moved = {key for key in clean if faulty[key] != clean[key]}
    assert moved <= {row, (out.run, "", "", "")}
