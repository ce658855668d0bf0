# Hearsay: the two set-up commands are `make run` and `make test` (see README.md).
SWIFT ?= swift
SWIFT_FLAGS ?=
BIN := .build/debug/hearsay
RELEASE_BIN := .build/release/hearsay

.PHONY: deps build release fuzz-build run test sim bench-sim clean

deps:
	@Tools/install-deps

build: deps
	$(SWIFT) build $(SWIFT_FLAGS) --product hearsay

# The release binary carries the Swift runtime inside (no libswiftCore.so & co. to map), packs
# its relocations (DT_RELR), exports no symbols and puts the functions a node runs together
# (Tools/build/hearsay.order, from Tools/build/profile-order): 27 -> 14 MB resident per node
# (Docs/decisions/0006-lean-node-binary.md). lld ships with the Swift toolchain.
ORDER_FLAGS ?= -Xlinker --symbol-ordering-file=$(CURDIR)/Tools/build/hearsay.order -Xlinker --no-warn-symbol-ordering
RELEASE_FLAGS ?= --static-swift-stdlib -Xswiftc -use-ld=lld \
	-Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic $(ORDER_FLAGS)
release: deps
	$(SWIFT) build -c release $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product hearsay

# The codec fuzzer, built with the same flags so that .build/release is not rebuilt back and forth.
fuzz-build: deps
	$(SWIFT) build -c release $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product HearsayFuzz

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
