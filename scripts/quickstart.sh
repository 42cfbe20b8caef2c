#!/usr/bin/env bash
# Set up .venv and run the offline quickstart (no network, no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python examples/quickstart.py "$@"
