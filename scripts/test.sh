#!/usr/bin/env bash
# Set up and run the test suite (the README's test command; CI calls this too).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[opencl,test]"
python -m pytest -n 2 -q -p no:cacheprovider "$@"
