#!/usr/bin/env bash
# Install everything the test suite needs (Debian/Ubuntu packages, then a virtualenv with
# the project and its test extras) and run the whole suite: ruff, mypy --strict, the
# import-boundary contracts, pytest. Exit non-zero on any failure, including "no tests ran".
#
#   scripts/test.sh                 # everything
#   scripts/test.sh tests/unit -k x # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${NETWATCH_SKIP_APT:-0}" != 1 ]]; then
    bash scripts/install-test-deps.sh
fi

VENV=${NETWATCH_VENV:-.venv}
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test]'

echo "==> ruff"
"$VENV/bin/ruff" check src tests benchmarks
"$VENV/bin/ruff" format --check src tests benchmarks
echo "==> mypy --strict src"
"$VENV/bin/mypy" src
echo "==> import boundaries"
"$VENV/bin/lint-imports"
echo "==> pytest"
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit $status
