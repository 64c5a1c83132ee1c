#!/usr/bin/env bash
# Set up .venv with python3.12 and run dlnmc or its tests.
#   ./dev.sh run [STUDY.toml] [-o OUT]   install dlnmc and run a study (default: quickstart)
#   ./dev.sh test [PYTEST ARGS]          install dlnmc[test] and run the test suite
#   ./dev.sh docs                        install dlnmc[docs] and build the site (offline,
#                                        warnings are errors) into docs/_build/html
set -euo pipefail
cd "$(dirname "$0")"

find_python() {
    local c
    for c in "${PYTHON:-}" python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 \
             /usr/local/bin/python3.12 /usr/bin/python3.12; do
        [ -n "$c" ] || continue
        if "$c" -c 'import sys; assert sys.version_info[:2] >= (3, 12)' >/dev/null 2>&1; then
            command -v "$c" || echo "$c"; return 0
        fi
    done
    echo "dev.sh: python3.12 not found (set PYTHON=/path/to/python3.12)" >&2
    return 2
}

setup() {  # $1: extras, e.g. "[test]"
    local stamp=".venv/.installed$1"
    if [ ! -x .venv/bin/python ]; then
        "$(find_python)" -m venv .venv
        .venv/bin/python -m pip install --quiet --upgrade pip
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet -e ".$1"
        touch "$stamp"
    fi
}

cmd="${1:-}"; shift || true
case "$cmd" in
    run)  setup ""; exec .venv/bin/dlnmc run "$@" ;;
    test) setup "[test]"; .venv/bin/ruff check .
          # One test file per core (pytest-xdist; a file's module fixtures are built once),
          # one BLAS thread per process so the cores are not oversubscribed.
          export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
          exec .venv/bin/python -m pytest -n auto --dist loadfile "$@" ;;
    docs) setup "[docs]"
          # Tutorials run on one thread each; the executed notebooks are not cached between
          # builds (every figure on the site comes from this build).
          export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
          unset MPLBACKEND  # the kernels use the inline backend, so figures reach the page
          exec .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html "$@" ;;
    *)    echo "usage: ./dev.sh run [STUDY.toml] [-o OUT] | ./dev.sh test [PYTEST ARGS]" \
               "| ./dev.sh docs" >&2; exit 2 ;;
esac
