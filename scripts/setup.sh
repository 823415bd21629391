# Sourced by the other scripts: make sure the virtual environment and system packages exist.
# Idempotent and quiet when everything is already there.
set -euo pipefail

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$stamp"
fi

# Debian's Chromium drives the browser tests (Playwright never downloads a browser here).
ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return
    fi
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
}
