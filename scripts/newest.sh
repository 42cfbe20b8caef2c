#!/usr/bin/env bash
#   bash scripts/newest.sh            try the newest releases that pyproject.toml's ranges allow
#   bash scripts/newest.sh --refresh  and, when everything passes, make them constraints.txt
# Builds a fresh environment (.venv-newest) without constraints.txt, prints the versions that differ from it, runs
# the checks and the whole test suite there, and ends with one line: passed, or which step failed (exit 1).
# constraints.txt, which CI, the quickstart and scripts/setup.sh install from, changes only after a green run.
set -uo pipefail
cd "$(dirname "$0")/.."
refresh=0
[ "${1:-}" = --refresh ] && { refresh=1; shift; }
export FIGA_VENV=.venv-newest FIGA_CONSTRAINTS=none
rm -rf "$FIGA_VENV"
if ! bash scripts/setup.sh; then
  echo "newest releases: FAILED to install (see above); constraints.txt unchanged" >&2
  exit 1
fi
frozen=$(mktemp)
trap 'rm -f "$frozen"' EXIT
"$FIGA_VENV"/bin/python -m pip freeze --exclude-editable --disable-pip-version-check | sort > "$frozen"
echo "versions that differ from constraints.txt (< constraints.txt, > newest):"
diff <(grep -v '^#' constraints.txt | sort) "$frozen" | grep '^[<>]' || echo "  none"
failed=()
bash scripts/check.sh || failed+=("the checks (scripts/check.sh)")
bash scripts/test.sh "$@" || failed+=("the test suite (scripts/test.sh)")
if [ ${#failed[@]} -gt 0 ]; then
  echo "newest releases: FAILED in ${failed[*]}; constraints.txt unchanged" >&2
  exit 1
fi
if [ "$refresh" = 1 ]; then
  { echo "# The versions the checks and the whole test suite passed with (bash scripts/newest.sh --refresh, $(date -u +%F),"
    echo "# Python $("$FIGA_VENV"/bin/python -c 'import platform; print(platform.python_version(), platform.machine())'))."
    cat "$frozen"; } > constraints.txt
  echo "newest releases: passed; constraints.txt refreshed"
else
  echo "newest releases: passed (bash scripts/newest.sh --refresh makes them constraints.txt)"
fi
