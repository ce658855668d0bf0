# Hearsay: the two set-up commands are `make run` and `make test` (see README.md).
SWIFT ?= swift
SWIFT_FLAGS ?=
BIN := .build/debug/hearsay
RELEASE_BIN := .build/release/hearsay

.PHONY: deps build release release-overlay fuzz-build fuzz fuzz-smoke run test sim bench-sim clean

deps:
	@Tools/install-deps

build: deps
	$(SWIFT) build $(SWIFT_FLAGS) --product hearsay

# The release binary carries the Swift runtime inside (no libswiftCore.so & co. to map), packs
# its relocations (DT_RELR), exports no symbols and puts the functions a node runs together
# (Tools/build/hearsay.order, from Tools/build/profile-order): a gossip node went from 27 to 14 MB
# resident (Docs/decisions/0006-lean-node-binary.md); with chat linked and on, 26 MB (0008).
# lld ships with the Swift toolchain.
ORDER_FLAGS ?= -Xlinker --symbol-ordering-file=$(CURDIR)/Tools/build/hearsay.order -Xlinker --no-warn-symbol-ordering
LINK_FLAGS := --static-swift-stdlib -Xswiftc -use-ld=lld \
	-Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
RELEASE_FLAGS ?= $(LINK_FLAGS) $(ORDER_FLAGS)
release: deps
	$(SWIFT) build -c release $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product hearsay

# A gossip-only node for headless overlay sites: the package trait Chat off, so GRDB, Foundation,
# BoringSSL and X.509 are not linked (Docs/decisions/0008-chat-in-the-node.md). Its own build
# directory, so that the two builds do not rebuild each other: .build/overlay/release/hearsay.
# Its own function order: what a gossip-only node runs (Tools/build/profile-order overlay).
OVERLAY_ORDER_FLAGS ?= -Xlinker --symbol-ordering-file=$(CURDIR)/Tools/build/hearsay-overlay.order -Xlinker --no-warn-symbol-ordering
release-overlay: deps
	$(SWIFT) build -c release $(LINK_FLAGS) $(OVERLAY_ORDER_FLAGS) $(SWIFT_FLAGS) --disable-default-traits --scratch-path .build/overlay --product hearsay

# The codec fuzzer, built with the same flags so that .build/release is not rebuilt back and forth.
fuzz-build: deps
	$(SWIFT) build -c release $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product HearsayFuzz

# Coverage-guided fuzzing of every decoder with libFuzzer (Tools/fuzz/libfuzzer, Docs/testing.md):
# each target runs FUZZ_SECONDS from the corpus in Tools/fuzz/corpus; findings in .build/fuzz/artifacts.
# Targets are compiled from Sources with swiftc -sanitize=fuzzer,address into .build/fuzz
# (Docs/decisions/0013-libfuzzer.md). fuzz-smoke: a few seconds each, the last step of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 8
fuzz: deps
	Tools/fuzz/libfuzzer run $(FUZZ_SECONDS)

fuzz-smoke: deps
	Tools/fuzz/libfuzzer run $(FUZZ_SMOKE_SECONDS)

# Brings you into `hearsay chat` on a running node: starts one in the background if none runs
# (log in <data>/node.log; stopped when you leave the chat), see Tools/run-chat. Others on the LAN
# appear through mDNS (the system avahi-daemon); across sites add RUN_ARGS="--join HOST:PORT".
# In another terminal: `.build/debug/hearsay table`, `hearsay send ann "hi"`, `hearsay history ann`.
RUN_ARGS ?= --handle $(or $(USER),$(shell id -un),someone)
run: build
	BIN=$(BIN) Tools/run-chat $(RUN_ARGS)

test: deps
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) build $(SWIFT_FLAGS) --disable-default-traits --scratch-path .build/overlay --product hearsay
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build --parallel --num-workers 2
	Tools/fuzz/libfuzzer run $(FUZZ_SMOKE_SECONDS)

# The simulator benchmark (release build): prints the figures of Docs/simulation.md.
bench-sim: release
	Tools/bench/sim-targets

clean:
	rm -rf .build
