#!/usr/bin/env bash
# Regenerate data/quickstart/: the default study's result file, its plots and its printed table.
#   PYTHON=/path/to/python3.12 scripts/make_quickstart_data.sh
# Runs `python -m dlnmc.cli` from the repository root, so the source tree's dlnmc is used.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data/quickstart
rm -f data/quickstart/quickstart*.png data/quickstart/quickstart.nc
"${PYTHON:-python3}" -m dlnmc.cli run -o data/quickstart/quickstart.nc --no-progress | tee data/quickstart/quickstart.txt
