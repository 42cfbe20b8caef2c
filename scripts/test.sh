#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh: the versions of constraints.txt) and run the whole test suite (slow tests included); extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv=${FIGA_VENV:-.venv}
scratch=${TMPDIR:-/tmp}
free_kb=$(df -Pk "$scratch" 2>/dev/null | awk 'NR == 2 {print $4}' || true)
if [ "${free_kb:-0}" -lt 4000000 ]; then
  echo "WARNING: $((free_kb / 1024)) MB free in $scratch; the slow tests write up to about 2.5 GB there (SmolLM2 checkpoints)" >&2
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$venv"/bin/python -m pytest --durations=20 "$@"
