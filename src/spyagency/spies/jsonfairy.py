"""The bins of the alignment's ``statusResults`` from the DQM GUI's jsonfairy export.

``data/json`` sends a histogram only as the hex of its streamed ROOT object; the GUI's
``/jsonfairy/archive/<run>/<dataset>/<path>?formatted=false`` renders the same object as JSON
(dqmgui_prod ``render.cc`` ``getJson`` and ``VisDQMRenderTools.h``, checked by
``test/integration/test_jsonfairy.py``)::

    {"hist": {"type": "TH2", "title": ..., "xaxis": {"first": .., "last": ..,
              "labels": [{"center": 0.5, "value": "DB updated"}, ..]},
              "bins": {"integral": .., "content": [[<x=1>, <x=2>, ..], <next y row>, ..]}}}

A TH2's ``content`` holds one list per y bin, each over the x bins; an axis lists only its
non-empty labels, in bin order. Two layouts (cmssw ``MillePedeDQMModule.cc``):

* SiPixelAli: one row of six labelled decision bins, "DB updated", "significant movement",
  "DB update vetoed", "within max movement", "within max error", "above significance"
  (older releases: "is DB updated?", "is DB update vetoed?", "n. records", "pede exit code");
* SiPixelAliHG / HGCombined: a grid of fraction checks, six degrees of freedom (x) by ten
  pixel layers and disks (y), with no update or veto bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spyagency.spies.documents import loads_lenient
from spyagency.spies.failures import SchemaViolation, truncate_raw
from spyagency.spies.parsing import as_list, as_mapping

UPDATED_LABELS = ("DB updated", "is DB updated?")
VETOED_LABELS = ("DB update vetoed", "is DB update vetoed?")
# The x labels of the high-granularity grid (one per alignment degree of freedom).
DOF_LABELS = (
    "#DeltaX",
    "#Delta#theta_{X}",
    "#DeltaY",
    "#Delta#theta_{Y}",
    "#DeltaZ",
    "#Delta#theta_{Z}",
)


@dataclass(frozen=True)
class StatusBins:
    """What the ``statusResults`` bins say; None where the layout has no such bin."""

    db_updated: bool | None
    vetoed: bool | None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaViolation(f"bin content is not a number: {value!r:.40}")
    if not math.isfinite(value):
        raise SchemaViolation(f"bin content is not finite: {value!r:.40}")
    return float(value)


def _grid(hist: Any) -> list[list[float]]:
    bins = as_mapping(as_mapping(hist, "jsonfairy 'hist'").get("bins"), "jsonfairy 'bins'")
    rows = as_list(bins.get("content"), "jsonfairy 'bins.content'")
    if not rows or not all(isinstance(row, list) and row for row in rows):
        raise SchemaViolation("statusResults is not a 2-D histogram")
    return [[_number(v) for v in row] for row in rows]


def _x_labels(hist: Any) -> list[str]:
    axis = as_mapping(hist, "jsonfairy 'hist'").get("xaxis", {})
    labels = as_list(as_mapping(axis, "jsonfairy 'xaxis'").get("labels", []), "x labels")
    names = [as_mapping(label, "x label").get("value") for label in labels]
    if not all(isinstance(name, str) for name in names):
        raise SchemaViolation("x label value must be a string")
    return [str(name) for name in names]


def _flag(bins: dict[str, float], names: tuple[str, ...]) -> bool | None:
    for name in names:
        if name in bins:
            if bins[name] not in (0.0, 1.0):
                raise SchemaViolation(f"bin {name!r} is neither 0 nor 1: {bins[name]}")
            return bins[name] == 1.0
    return None


def parse_status_results(text: str) -> StatusBins:
    """Raises ``SchemaViolation`` unless the answer is a ``statusResults`` of a known layout."""
    try:
        hist = as_mapping(loads_lenient(text), "jsonfairy answer").get("hist")
        grid = _grid(hist)
        labels = _x_labels(hist)
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, truncate_raw(text)) from None
    if any(label in UPDATED_LABELS + VETOED_LABELS for label in labels):
        if len(grid) != 1 or len(labels) != len(grid[0]):
            raise SchemaViolation("statusResults decision bins not one labelled row", text)
        bins = dict(zip(labels, grid[0], strict=True))
        try:
            return StatusBins(_flag(bins, UPDATED_LABELS), _flag(bins, VETOED_LABELS))
        except SchemaViolation as bad:
            raise SchemaViolation(bad.message, truncate_raw(text)) from None
    columns = {len(row) for row in grid}
    if columns == {len(DOF_LABELS)} and (len(grid) > 1 or labels == list(DOF_LABELS)):
        return StatusBins(None, None)  # the fraction grid: read, but no update decision
    raise SchemaViolation("statusResults layout not understood", truncate_raw(text))
