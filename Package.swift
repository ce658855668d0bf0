// swift-tools-version:6.1
import PackageDescription

// Layers (dependencies point down):
//   hearsay (executable) -> HearsayCLI -> HearsayNode, HearsaySim -> Gossip -> HearsayModel
//   HearsayNode -> DiscoveryAvahi (-> CAvahi) -> Discovery -> HearsayModel
// See Docs/architecture.md.
let package = Package(
    name: "Hearsay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hearsay", targets: ["hearsay"]),
        .library(name: "HearsayModel", targets: ["HearsayModel"]),
        .library(name: "Gossip", targets: ["Gossip"]),
    ],
    // `Chat` (on by default): native chat sessions, TLS and the SQLite store. `make release-overlay`
    // builds without it: a gossip-only node for headless overlay sites, without GRDB, Foundation,
    // BoringSSL or X.509 linked (Docs/decisions/0008-chat-in-the-node.md).
    traits: [
        .trait(name: "Chat", description: "Native chat: TLS sessions, the outbox and history in SQLite (GRDB)."),
        .default(enabledTraits: ["Chat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // Layer 0: identities, presence entries, signatures, byte codecs. No IO.
        .target(
            name: "HearsayModel",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // Layer 0: the SWIM/Lifeguard + eager/lazy push + anti-entropy state machine. No IO.
        .target(
            name: "Gossip",
            dependencies: [
                "HearsayModel",
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // Deterministic discrete-event simulator driving many Gossip instances in virtual time.
        .target(
            name: "HearsaySim",
            dependencies: [
                "Gossip", "HearsayModel",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ]
        ),
        // Layer 0: the realm -> protocol database, and the route from a table entry to a session. No IO.
        .target(name: "Realms", dependencies: ["HearsayModel"]),
        // Layer 1b: durable chat state in SQLite (GRDB): history, outbox, friends, known peers.
        .target(
            name: "ChatStore",
            dependencies: ["HearsayModel", "NativeWire", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // Layer 1b: TLS 1.3 between nodes, certificates bound to the nodes' identity keys (issue 5).
        .target(
            name: "NativeTLS",
            dependencies: [
                "HearsayModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Layer 1b: the native realm on the network: TLS listener and dials, one connection per pair.
        .target(
            name: "RealmNative",
            dependencies: [
                "Conversation", "HearsayModel", "ListenerLimits", "NativeTLS", "NativeWire",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Layer 0: one native connection as a state machine: hello, session policy, messages, acks,
        // keep-alive (issue 5). No IO.
        .target(name: "Conversation", dependencies: ["HearsayModel", "NativeWire"]),
        // Layer 0: the native chat protocol's messages and framing (issue 5). No IO.
        .target(name: "NativeWire", dependencies: ["HearsayModel"]),
        // Layer 1a: Expat, the push XML parser (Debian libexpat1-dev, from Tools/install-deps); linked
        // normally (Docs/decisions/0009-expat-for-xmpp-streams.md).
        .systemLibrary(name: "CExpat", pkgConfig: "expat", providers: [.apt(["libexpat1-dev"])]),
        // Layer 0: link-local XMPP (XEP-0174) streams: the bounded XML stream parser over Expat, message
        // stanzas, the stream as a state machine (issue 6). No IO.
        .target(name: "XMPPWire", dependencies: ["CExpat"]),
        // Layer 1b: link-local XMPP on the network: the dual-stack listener, dials, one stream per buddy.
        .target(
            name: "RealmXMPP",
            dependencies: [
                "XMPPWire", "HearsayModel", "ListenerLimits",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Layer 0: LAN discovery logic (DNS-SD record layout, interface choice, dedupe by node id). No IO.
        .target(name: "Discovery", dependencies: ["HearsayModel"]),
        // Layer 1a: libavahi-client's headers (Debian libavahi-client-dev, from Tools/install-deps).
        // No `pkgConfig:`: its `--libs` would link libavahi-client, which the node opens at run time
        // instead, only when it wants mDNS (CAvahi/shim.h, Docs/decisions/0007-avahi-at-run-time.md).
        .systemLibrary(name: "CAvahi"),
        // Layer 1b: DNS-SD through the system avahi-daemon.
        .target(name: "DiscoveryAvahi", dependencies: ["CAvahi", "Discovery", "HearsayModel"]),
        // Layer 1a: what every listener admits (caps in total, per source, pending; pre-auth
        // deadlines; the descriptor reserve; byte budgets), on SwiftNIO channels (issue 11, point 6).
        .target(
            name: "ListenerLimits",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // Layer 1b: the gossip state machine on UDP and TCP sockets (SwiftNIO).
        .target(
            name: "GossipNIO",
            dependencies: [
                "Gossip", "HearsayModel", "ListenerLimits",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Composition root: identity and state on disk, the gossip shell, the control API.
        .target(
            name: "HearsayNode",
            dependencies: [
                "HearsayModel", "Gossip", "GossipNIO", "Discovery", "DiscoveryAvahi", "Conversation", "NativeWire", "Realms", "ListenerLimits",
                .target(name: "ChatStore", condition: .when(traits: ["Chat"])),
                .target(name: "RealmNative", condition: .when(traits: ["Chat"])),
                .target(name: "RealmXMPP", condition: .when(traits: ["Chat"])),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "HearsayCLI",
            dependencies: [
                "HearsayNode", "HearsaySim", "Gossip", "HearsayModel", "Discovery", "DiscoveryAvahi", "Realms",
                "Conversation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "hearsay",
            dependencies: ["HearsayCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Mutation fuzzer for the wire codecs and the XMPP stream parser (Tools/fuzz/run); bounded runs
        // are part of the tests.
        .executableTarget(name: "HearsayFuzz", dependencies: ["Gossip", "HearsayModel", "NativeWire", "XMPPWire"]),
        // The native chat benchmark (Tools/bench/chat, Docs/benchmarks.md): nodes in process on 127.0.0.x.
        .executableTarget(
            name: "ChatBench",
            dependencies: [
                "HearsayNode", "HearsayModel",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HearsayModelTests", dependencies: ["HearsayModel", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "GossipTests", dependencies: ["Gossip", "HearsayModel", "HearsaySim", "HearsayFuzz"]),
        .testTarget(name: "DiscoveryTests", dependencies: ["Discovery", "HearsayModel"]),
        .testTarget(
            name: "ListenerLimitsTests",
            dependencies: ["ListenerLimits", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(name: "NativeWireTests", dependencies: ["NativeWire", "HearsayModel"]),
        .testTarget(name: "XMPPWireTests", dependencies: ["XMPPWire", "HearsayFuzz"]),
        .testTarget(
            name: "RealmXMPPTests",
            dependencies: [
                "RealmXMPP", "XMPPWire", "HearsayModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "RealmsTests", dependencies: ["Realms", "HearsayModel"]),
        .testTarget(name: "ConversationTests", dependencies: ["Conversation", "NativeWire", "HearsayModel"]),
        .testTarget(
            name: "RealmNativeTests",
            dependencies: [
                "RealmNative", "Conversation", "NativeWire", "HearsayModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ChatStoreTests", dependencies: ["ChatStore", "NativeWire", "HearsayModel"]),
        .testTarget(
            name: "NativeTLSTests",
            dependencies: [
                "NativeTLS", "HearsayModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(name: "HearsaySimTests", dependencies: ["HearsaySim", "Gossip", "HearsayModel"]),
        .testTarget(
            name: "HearsayCLITests",
            dependencies: [
                "HearsayCLI", "HearsayNode", "HearsayModel", "NativeTLS", "NativeWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
