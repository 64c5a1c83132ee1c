#!/usr/bin/env bash
# Regenerate data/quickstart/: the default study's result file, its plots and its printed table.
#   scripts/make_quickstart_data.sh            (uses `dlnmc` on PATH, else python -m dlnmc.cli)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data/quickstart
rm -f data/quickstart/quickstart*.png data/quickstart/quickstart.nc
if command -v dlnmc >/dev/null 2>&1; then run=(dlnmc); else run=("${PYTHON:-python3}" -m dlnmc.cli); fi
"${run[@]}" run -o data/quickstart/quickstart.nc --no-progress | tee data/quickstart/quickstart.txt
