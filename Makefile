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

# Until the networked node lands (issue 3), `make run` shows this machine's node identity and
# runs the gossip simulator on 200 nodes: the replicated table converging in virtual time.
run: build
	$(BIN) id
	$(BIN) sim --nodes 200

test: deps
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build --parallel --num-workers 2

# The simulator benchmark (release build): prints the figures of Docs/simulation.md.
bench-sim: release
	Tools/bench/sim-targets

clean:
	rm -rf .build
