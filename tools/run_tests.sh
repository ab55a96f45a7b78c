#!/usr/bin/env bash
# Install everything (skipped when done), then run the test suite. Extra arguments go to pytest.
#   bash tools/run_tests.sh
#   bash tools/run_tests.sh -k context_cluster -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
echo "[tests] running the test suite"
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider --durations=15 "$@"
