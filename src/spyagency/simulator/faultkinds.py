"""Names of every fault the simulator can inject, grouped by where they act."""

from __future__ import annotations

SERVICES = ("t0", "oms", "logs", "dqm", "wmstats")

# Per HTTP request, on one service (rates or windows).
HTTP_FAULTS = (
    "http_500",
    "http_503",
    "slow",
    "timeout",
    "reset",
    "malformed_json",
    "truncated_json",
    "legacy_quotes",
    "extra_fields",
    "missing_fields",
    "service_down",
)

# Windows acting on the world rather than on one request.
WORLD_WINDOWS = ("condb_locked", "condb_unreadable", "promptreco_off")

# Per harvest output, changing what really happens to it (rates, or forced at least once
# with `ensure_items`).
ITEM_WORLD_FAULTS = (
    "duplicate_harvest",
    "out_of_order_upload",
    "uploaded_never_in_db",
    "iov_wrong_tag",
    "iov_wrong_hash",
)

# Per item (one output, one run), changing for a few hours only what the agency reads of it;
# what really happened stays as it was (``read_fault_planner``). Same `item_rates` and
# `ensure_items` as the faults above.
ITEM_READ_FAULTS = (
    "corrupt_harvest_file",
    "truncated_item",
    "missing_folder",
    "late_item",
)

ITEM_FAULTS = ITEM_WORLD_FAULTS + ITEM_READ_FAULTS

WINDOW_FAULTS = HTTP_FAULTS + WORLD_WINDOWS
