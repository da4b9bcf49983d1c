# Sourced by scripts/*: creates or refreshes .venv from the pinned requirements.
# The venv is rebuilt only when requirements-dev.txt or constraints.txt change,
# so a second run costs a hash comparison.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"
stamp_of() { cat "$ROOT/requirements-dev.txt" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1; }
want="$(stamp_of)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setting up .venv (first run takes a minute)" >&2
  "$PYTHON_BIN" -m venv "$VENV"
fi
if [ "$(cat "$VENV/.requirements-stamp" 2>/dev/null || true)" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==26.2.1"  # chalice 1.34 requires pip<26.3
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
  echo "$want" > "$VENV/.requirements-stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
# Bytecode goes under .venv, not beside the sources: Chalice's vendor/ symlink would
# otherwise copy backbone/__pycache__ into every deployment zip.
export PYTHONPYCACHEPREFIX="$VENV/pycache"
