#!/bin/bash
# test.sh — simboard's test command (`make test` runs it).
#
#   scripts/test.sh [step...]     steps: deps fmt vet lint tidy gotest vtest (default: all, in that order)
#
#   lint   staticcheck, pinned (STATICCHECK), built by `go run` from the module proxy
#   tidy   go mod tidy -diff: go.mod and go.sum say exactly what the code imports
#   vtest  the stack tests again in virtual time (SIMBOARD_TEST_CLOCK=virtual): every test that
#          builds boards through boardtest runs in a sim.Sim; tests that cannot say why they skip
#
# Every step runs even when an earlier one failed, so one run shows everything; the exit
# status is non-zero if any step failed, and a summary (steps, then go test's per-package
# lines) ends the output.
#
# Environment:
#   GO (go), PKGS (./...), TESTP (2: packages tested in parallel; the machines have 2 cores),
#   VPKGS (the packages vtest runs: netstack boardtest apps/smtpc apps/pop3c examples/usertest),
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
STATICCHECK=${STATICCHECK:-honnef.co/go/tools/cmd/staticcheck@v0.8.2}
own_log=false
if [[ -z ${TESTLOG:-} ]]; then
  TESTLOG=$(mktemp -t simboard-gotest.XXXXXX.log)
  own_log=true
fi

steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(deps fmt vet lint tidy gotest vtest)

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

lint() {
  # shellcheck disable=SC2086
  $GO run "$STATICCHECK" $PKGS && echo "staticcheck: clean"
}

tidy() {
  $GO mod tidy -diff && echo "go mod tidy: clean"
}

gotest() {
  # shellcheck disable=SC2086
  echo "$GO test -race -count=1 -p $TESTP -timeout $TESTTIMEOUT $GOTESTFLAGS $PKGS"
  # shellcheck disable=SC2086
  $GO test -race -count=1 -p "$TESTP" -timeout "$TESTTIMEOUT" $GOTESTFLAGS $PKGS 2>&1 | tee "$TESTLOG"
  return "${PIPESTATUS[0]}"
}

# vtest: the packages whose tests build boards on a Wire through boardtest.
VPKGS=${VPKGS:-./netstack ./boardtest ./apps/smtpc ./apps/pop3c ./examples/usertest}

vtest() {
  # shellcheck disable=SC2086
  echo "SIMBOARD_TEST_CLOCK=virtual $GO test -race -count=1 -p $TESTP -timeout $TESTTIMEOUT $GOTESTFLAGS $VPKGS"
  # shellcheck disable=SC2086
  SIMBOARD_TEST_CLOCK=virtual $GO test -race -count=1 -p "$TESTP" -timeout "$TESTTIMEOUT" $GOTESTFLAGS $VPKGS 2>&1 | sed 's/^/[virtual] /' | tee -a "$TESTLOG"
  return "${PIPESTATUS[0]}"
}

for s in "${steps[@]}"; do
  case $s in
    deps|fmt|vet|lint|tidy|gotest|vtest) ;;
    *) echo "test.sh: unknown step $s (want deps fmt vet lint tidy gotest vtest)" >&2; exit 2 ;;
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
if [[ " ${steps[*]} " == *" gotest "* || " ${steps[*]} " == *" vtest "* ]] && [[ -s $TESTLOG ]]; then
  where="full output above"
  if ! $own_log || [[ $rc -ne 0 ]]; then where+=", kept in $TESTLOG"; fi
  echo "  go test, per package ($where):"
  grep -E '^(\[virtual\] )?(ok|FAIL|---|panic:|\?)[[:space:]]' "$TESTLOG" | grep -vE '^(\[virtual\] )?\?.*\[no test files\]' | sed 's/^/    /'
fi
# Our own log is only worth keeping when something failed.
if $own_log && [[ $rc -eq 0 ]]; then
  rm -f "$TESTLOG"
fi
exit $rc
