# Hearsay: the two set-up commands are `make run` and `make test` (see README.md).
SWIFT ?= swift
SWIFT_FLAGS ?=
BIN := .build/debug/hearsay
RELEASE_BIN := .build/release/hearsay

.PHONY: deps build release run test sim bench-sim clean

deps:
	@Tools/install-deps

build: deps
	$(SWIFT) build $(SWIFT_FLAGS) --product hearsay

release: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS) --product hearsay

# Starts a node in the foreground (Ctrl-C leaves gracefully). In another terminal:
# `.build/debug/hearsay table`, `hearsay status away "text"`, `hearsay members`.
# Until LAN discovery (issue 4) and chat (issue 5) land, peers join with --join HOST:PORT.
RUN_ARGS ?= --handle $(or $(USER),$(shell id -un),someone)
run: build
	$(BIN) node $(RUN_ARGS)

test: deps
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build --parallel --num-workers 2

# The simulator benchmark (release build): prints the figures of Docs/simulation.md.
bench-sim: release
	Tools/bench/sim-targets

clean:
	rm -rf .build
