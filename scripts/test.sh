#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs what is missing, starts a throwaway
# PostgreSQL, then format check, lint, types, layer rules and pytest with coverage.
# Extra arguments go to pytest (e.g. scripts/test.sh -k verdict, or --run-slow).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_chromium

pg_dir=$(mktemp -d /tmp/spyagency-pg.XXXXXX)
cleanup() { .ci/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"; }
trap cleanup EXIT
if [ -z "${SPYAGENCY_TEST_POSTGRES_URL:-}" ]; then
    eval "$(.ci/postgres.sh start "$pg_dir")"
fi
export SPYAGENCY_TEST_POSTGRES_URL

echo "== ruff format --check"; .venv/bin/ruff format --check src tests bench
echo "== ruff check";          .venv/bin/ruff check src tests bench
echo "== mypy --strict";       .venv/bin/mypy
echo "== import-linter";       .venv/bin/lint-imports
echo "== pytest"
.venv/bin/pytest -p no:cacheprovider --cov --cov-report=term:skip-covered "$@"
