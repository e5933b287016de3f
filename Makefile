# simboard — test and benchmark entry points.
#
#   make test    install missing test packages (root only), gofmt check, go vet, go test -race
#   make bench   run every benchmark once (not part of CI)
#   make deps    only install/check the test packages (scripts/test-deps.sh)
#
# Knobs (environment or make VAR=...):
#   GOTESTFLAGS   extra flags for go test, e.g. GOTESTFLAGS='-run Interop -v'
#   PKGS          packages to test (default ./...)
#   TESTP         packages built and tested in parallel (default 2: the machines have 2 cores)
#   SIMBOARD_REQUIRE_NETNS=1   namespace/TAP/interop tests fail instead of skipping (set by CI)
#   SIMBOARD_NO_INSTALL=1      never install packages, only report what is missing

GO          ?= go
PKGS        ?= ./...
TESTP       ?= 2
TESTTIMEOUT ?= 30m
GOTESTFLAGS ?=
BENCHFLAGS  ?= -benchtime=1s

.PHONY: test deps fmt vet gotest bench

test: deps fmt vet gotest

deps:
	@if [ "$${SIMBOARD_NO_INSTALL:-}" = 1 ]; then scripts/test-deps.sh --check; else scripts/test-deps.sh; fi

fmt:
	@echo "== gofmt -l"
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l) || { echo "gofmt failed"; exit 1; }; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi

vet:
	@echo "== go vet $(PKGS)"
	$(GO) vet $(PKGS)

gotest:
	@echo "== go test -race $(PKGS)"
	$(GO) test -race -count=1 -p $(TESTP) -timeout $(TESTTIMEOUT) $(GOTESTFLAGS) $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(BENCHFLAGS) $(PKGS)
