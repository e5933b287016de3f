#!/bin/bash
# test.sh — simboard's test command (`make test` runs it).
#
#   scripts/test.sh [step...]     steps: deps fmt vet gotest (default: all four, in that order)
#
# Every step runs even when an earlier one failed, so one run shows everything; the exit
# status is non-zero if any step failed, and a summary (steps, then go test's per-package
# lines) ends the output.
#
# Environment:
#   GO (go), PKGS (./...), TESTP (2: packages tested in parallel; the machines have 2 cores),
#   TESTTIMEOUT (30m), GOTESTFLAGS (extra go test flags, e.g. '-run Interop -v'),
#   SIMBOARD_REQUIRE_NETNS=1   namespace/TAP/interop tests fail instead of skipping (CI)
#   SIMBOARD_NO_INSTALL=1      never install packages, only report what is missing
#   TESTLOG                    where go test's output is kept (default: a temp file, removed
#                              when every step passed)
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
PKGS=${PKGS:-./...}
TESTP=${TESTP:-2}
TESTTIMEOUT=${TESTTIMEOUT:-30m}
GOTESTFLAGS=${GOTESTFLAGS:-}
own_log=false
if [[ -z ${TESTLOG:-} ]]; then
  TESTLOG=$(mktemp -t simboard-gotest.XXXXXX.log)
  own_log=true
fi

steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(deps fmt vet gotest)

summary=()
rc=0

deps() {
  if [[ ${SIMBOARD_NO_INSTALL:-} == 1 ]]; then
    scripts/test-deps.sh --check
  else
    scripts/test-deps.sh
  fi
}

fmt() {
  local out
  out=$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l) || {
    echo "gofmt failed"
    return 1
  }
  if [[ -n $out ]]; then
    echo "gofmt: these files need formatting:"
    echo "$out"
    return 1
  fi
  echo "gofmt: clean"
}

vet() {
  # shellcheck disable=SC2086
  $GO vet $PKGS
}

gotest() {
  # shellcheck disable=SC2086
  echo "$GO test -race -count=1 -p $TESTP -timeout $TESTTIMEOUT $GOTESTFLAGS $PKGS"
  # shellcheck disable=SC2086
  $GO test -race -count=1 -p "$TESTP" -timeout "$TESTTIMEOUT" $GOTESTFLAGS $PKGS 2>&1 | tee "$TESTLOG"
  return "${PIPESTATUS[0]}"
}

for s in "${steps[@]}"; do
  case $s in
    deps|fmt|vet|gotest) ;;
    *) echo "test.sh: unknown step $s (want deps fmt vet gotest)" >&2; exit 2 ;;
  esac
  printf '\n== %s\n' "$s"
  t=$SECONDS
  "$s"
  r=$?
  summary+=("$(printf '  %-7s %-4s %5ds' "$s" "$([[ $r -eq 0 ]] && echo ok || echo FAIL)" $((SECONDS - t)))")
  [[ $r -eq 0 ]] || rc=1
done

printf '\n== summary\n'
printf '%s\n' "${summary[@]}"
if [[ " ${steps[*]} " == *" gotest "* && -s $TESTLOG ]]; then
  where="full output above"
  if ! $own_log || [[ $rc -ne 0 ]]; then where+=", kept in $TESTLOG"; fi
  echo "  go test, per package ($where):"
  grep -E '^(ok|FAIL|---|panic:|\?)[[:space:]]' "$TESTLOG" | grep -vE '^\?.*\[no test files\]' | sed 's/^/    /'
fi
# Our own log is only worth keeping when something failed.
if $own_log && [[ $rc -eq 0 ]]; then
  rm -f "$TESTLOG"
fi
exit $rc
