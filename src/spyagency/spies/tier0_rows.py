"""Parsers for the Tier-0 data service answers (``{"result": [...]}``).

The shapes are those of dmwm/t0wmadatasvc ``src/python/T0WmaDataSvc/Data*.py`` (see
docs/protocols.md, "Tier-0 data service")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from spyagency.domain.facts import ExpressConfig, RecoReleased, StreamDone
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import (
    as_list,
    as_mapping,
    compact,
    optional_str,
    require_str,
    run_number,
    to_bool,
    to_int,
)

STREAM_NAME = re.compile(r"^[A-Za-z0-9_]{1,100}$")
# ``proc_version`` is an integer column upstream (dmwm/T0 ``Create.py``); a digit string, or
# the dataset spelling ``v<N>``, is accepted as the same number.
PROC_VERSION = re.compile(r"^v?([0-9]{1,6})$")


def result_rows(body: Any) -> list[Any]:
    return as_list(as_mapping(body, "answer").get("result"), "answer 'result'")


def _single(body: Any, what: str) -> Any:
    rows = result_rows(body)
    if len(rows) != 1:
        raise SchemaViolation(f"{what}: expected exactly one value, got {len(rows)}", compact(body))
    return rows[0]


def parse_fcsr(body: Any) -> int | None:
    """The first condition-safe run, or None: the service answers ``[null]`` while its
    ``reco_locked`` table is empty (``DataFirstConditionSafeRun.py``), i.e. no FCSR yet."""
    value = _single(body, "firstconditionsaferun")
    if value is None:
        return None
    return run_number(to_int(value, "firstconditionsaferun"))


def parse_switch(body: Any) -> bool:
    return to_bool(_single(body, "promptreco_status"), "promptreco_status")


def stream_name(value: Any) -> str:
    if not isinstance(value, str) or not STREAM_NAME.fullmatch(value):
        raise SchemaViolation(f"not a valid stream name: {value!r:.80}")
    return value


def _row_run(row: Mapping[str, Any]) -> int:
    if "run" not in row:
        raise SchemaViolation("missing field 'run'", compact(row))
    try:
        return run_number(row["run"])
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, compact(row)) from None


def parse_run_config_row(row: Any) -> tuple[int, str | None]:
    """One ``run_config`` row: the run and its acquisition era."""
    item = as_mapping(row, "run_config row")
    return _row_run(item), optional_str(item, "acq_era")


def parse_express_row(row: Any, run: int, acq_era: str | None) -> ExpressConfig:
    item = as_mapping(row, "express_config row")
    if _row_run(item) != run:
        raise SchemaViolation(f"express_config row is about another run than {run}", compact(row))
    try:
        stream = stream_name(item.get("stream"))
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, compact(row)) from None
    if "alca_skim" not in item:
        raise SchemaViolation("missing field 'alca_skim'", compact(row))
    # A stream without skims says alca_skim null or ""; both mean no producers.
    skims = optional_str(item, "alca_skim") or ""
    producers = tuple(p.strip() for p in skims.split(",") if p.strip())
    return ExpressConfig(
        run=run,
        stream=stream,
        producers=producers,
        global_tag=optional_str(item, "global_tag"),
        acq_era=acq_era,
        proc_version=parse_proc_version(item),
    )


def parse_proc_version(item: Mapping[str, Any]) -> int | None:
    """``proc_version`` as an int (absent or null: None)."""
    value = item.get("proc_version")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = PROC_VERSION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise SchemaViolation(
            f"field 'proc_version' is not a version: {value!r:.80}", compact(item)
        )
    return int(match.group(1))


def parse_stream_done(body: Any, run: int, stream: str) -> StreamDone:
    done = to_bool(_single(body, "run_stream_done"), "run_stream_done")
    return StreamDone(run=run, stream=stream, done=done)


def parse_reco_row_run(row: Any) -> int:
    """The run of one ``reco_config`` row."""
    return _row_run(as_mapping(row, "reco_config row"))


def parse_reco_rows(body: Any, run: int) -> RecoReleased | None:
    """``reco_config`` rows exist only once PromptReco of the run is released."""
    rows = result_rows(body)
    if not rows:
        return None
    datasets: list[str] = []
    global_tags: list[str] = []
    for row in rows:
        item = as_mapping(row, "reco_config row")
        if _row_run(item) != run:
            raise SchemaViolation(f"reco_config row is about another run than {run}", compact(row))
        datasets.append(require_str(item, "primary_dataset"))
        tag = optional_str(item, "global_tag")
        if tag:
            global_tags.append(tag)
    # All datasets of a run share the Prompt GT in practice; the most common one is kept if not.
    prompt_gt = max(sorted(set(global_tags)), key=global_tags.count) if global_tags else None
    return RecoReleased(run=run, prompt_global_tag=prompt_gt, datasets=tuple(sorted(datasets)))
