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

# Per harvest output (rates, or forced at least once with `ensure`).
ITEM_FAULTS = (
    "duplicate_harvest",
    "out_of_order_upload",
    "uploaded_never_in_db",
    "iov_wrong_tag",
    "iov_wrong_hash",
)

WINDOW_FAULTS = HTTP_FAULTS + WORLD_WINDOWS
