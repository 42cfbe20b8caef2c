#!/usr/bin/env bash
# Set up .venv and run the offline quickstart, `figa demo` (no network beyond the package registry, no GPU).
# Extra arguments go to `figa demo` (e.g. --quick, --output_dir DIR, --model PATH_OR_HUB_ID).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/figa demo "$@"
