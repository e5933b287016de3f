# simboard — test and benchmark entry points.
#
#   make test    install missing test packages (root only), gofmt -l, go vet, staticcheck,
#                go mod tidy -diff, go test -race;
#                every step runs, a summary ends the output (scripts/test.sh)
#   make bench   run every benchmark once (not part of CI)
#   make deps | fmt | vet | lint | tidy | gotest   one step of `make test`
#
# Knobs (environment or make VAR=...):
#   GOTESTFLAGS   extra flags for go test, e.g. GOTESTFLAGS='-run Interop -v'
#   PKGS          packages to test (default ./...)
#   TESTP         packages built and tested in parallel (default 2: the machines have 2 cores)
#   TESTTIMEOUT   go test -timeout (default 30m)
#   SIMBOARD_REQUIRE_NETNS=1   namespace/TAP/interop tests fail instead of skipping (set by CI)
#   SIMBOARD_NO_INSTALL=1      never install packages, only report what is missing

GO          ?= go
PKGS        ?= ./...
TESTP       ?= 2
TESTTIMEOUT ?= 30m
GOTESTFLAGS ?=
BENCHFLAGS  ?= -benchtime=1s

export GO PKGS TESTP TESTTIMEOUT GOTESTFLAGS

.PHONY: test deps fmt vet lint tidy gotest vtest bench

test:
	@scripts/test.sh deps fmt vet lint tidy gotest vtest

deps fmt vet lint tidy gotest vtest:
	@scripts/test.sh $@

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(BENCHFLAGS) $(PKGS)
