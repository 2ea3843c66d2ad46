#!/usr/bin/env bash
# Policy CI for Airlock: the steps a pipeline runs on every change to a policy
# directory — check (parse and type-check), fmt --check (canonical formatting),
# test (Rego unit tests through the WebAssembly path), build (the OPA bundle).
#
# Usage: ci/policy-ci.sh [POLICY_DIR] [BUNDLE_FILE]
#   POLICY_DIR   default: policies
#   BUNDLE_FILE  default: $AIRLOCK_BUNDLE, else bundles/airlock.tar.gz
#
# Environment:
#   AIRLOCK           how to run the CLI (default: `airlock` on PATH, else `npx --no-install airlock`)
#   AIRLOCK_REVISION  bundle revision (default: the git commit of POLICY_DIR, if any)
#   AIRLOCK_TEST_ARGS extra arguments for `airlock test` (e.g. "--coverage")
#
# Every step runs even when an earlier one failed (so one run shows every
# problem), except build, which runs only when all the others passed. Exit
# status: 0 when every step passed, 1 otherwise, 2 on a usage error.
set -uo pipefail

if [[ $# -gt 2 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -gt 2 ]] && exit 2
  exit 0
fi

dir="${1:-policies}"
bundle="${2:-${AIRLOCK_BUNDLE:-bundles/airlock.tar.gz}}"

if [[ ! -d "$dir" ]]; then
  echo "policy-ci: $dir is not a directory" >&2
  exit 2
fi

if [[ -n "${AIRLOCK:-}" ]]; then
  read -r -a airlock <<<"$AIRLOCK"
elif command -v airlock >/dev/null 2>&1; then
  airlock=(airlock)
else
  airlock=(npx --no-install airlock)
fi

revision="${AIRLOCK_REVISION:-}"
if [[ -z "$revision" ]] && command -v git >/dev/null 2>&1; then
  revision="$(git -C "$dir" rev-parse HEAD 2>/dev/null || true)"
fi

test_args=()
if [[ -n "${AIRLOCK_TEST_ARGS:-}" ]]; then
  read -r -a test_args <<<"$AIRLOCK_TEST_ARGS"
fi

failed=()
passed=()

step() {
  local name="$1"
  shift
  echo "::: policy-ci: $name"
  echo "    \$ ${airlock[*]} $*"
  if "${airlock[@]}" "$@"; then
    passed+=("$name")
    echo "::: policy-ci: $name passed"
  else
    failed+=("$name")
    echo "::: policy-ci: $name FAILED" >&2
  fi
  echo
}

step check check "$dir"
step fmt fmt --check "$dir"
step test test "$dir" "${test_args[@]}"
if [[ ${#failed[@]} -eq 0 ]]; then
  step build build "$dir" -o "$bundle" --revision "$revision"
else
  echo "::: policy-ci: build skipped (earlier steps failed)" >&2
  failed+=("build (skipped)")
fi

echo "policy-ci: $dir: passed: ${passed[*]:-none}; failed: ${failed[*]:-none}"
[[ ${#failed[@]} -eq 0 ]]
