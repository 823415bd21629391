#!/usr/bin/env bash
# The main job on a fresh machine: a simulated CMS, the agency and its web UI, on SQLite.
# Options go to `spyagency demo` (e.g. --speed 1200, --scenario bad_day, --port 8080, --dir DIR
# to keep its files, which are otherwise removed on exit).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec .venv/bin/spyagency demo "$@"
