#!/usr/bin/env bash
# Creates the Python virtual environment the conformance tests use (target/py-venv),
# with the pinned outside parser dsmr-parser from PyPI. Idempotent: does nothing when the
# environment already holds the pinned versions.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="$here/target/py-venv"
req="$here/scripts/requirements-conformance.txt"
stamp="$venv/.requirements.sha256"
python=${PYTHON:-python3}

want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup-python: creating $venv with the pinned dsmr-parser (pip, about half a minute the first time)..." >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
"$venv/bin/python" -c "import dsmr_parser, importlib.metadata as m; print('dsmr-parser', m.version('dsmr-parser'), 'in', '$venv')"
echo "$want" > "$stamp"
