#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import HearsayModel

/// Every tunable of the gossip layer, with presets for a LAN and a WAN.
///
/// Each field says what it does, its unit and why its default is what it is. `Docs/configuration.md`
/// mirrors this file.
public struct GossipConfig: Sendable, Hashable {
    // MARK: Failure detection (SWIM §4, Lifeguard §IV)

    /// How often a node probes one member, round-robin over a random permutation (SWIM §4.3).
    /// Each probe costs one ping and one ack, so this sets the constant per-node load.
    public var probeInterval: Duration
    /// How long to wait for a direct ack before asking `indirectChecks` members to probe
    /// (SWIM §4.1). Scaled by the local health multiplier.
    public var probeTimeout: Duration
    /// How many members relay an indirect probe (SWIM's k).
    public var indirectChecks: Int
    /// Upper bound of Lifeguard's local health multiplier (LHA-Probe): a node that misses acks
    /// and nacks slows its own probing down to at most (max + 1) × the interval.
    public var awarenessMaxMultiplier: Int
    /// Lifeguard's dynamic suspicion timeout (LHA-Suspicion): a suspicion starts at
    /// `suspicionMaxTimeout` and shrinks toward `suspicionMinTimeout` as independent confirmations
    /// arrive, reaching it at `suspicionConfirmations`. Both scale with max(1, log10(n) / 3).
    public var suspicionMinTimeout: Duration
    public var suspicionMaxTimeout: Duration
    public var suspicionConfirmations: Int

    // MARK: Dissemination (eager push, lazy push, piggyback)

    /// Members a node forwards a new update to the moment it learns it (eager push).
    public var eagerFanout: Int
    /// Eager push is paced by a token bucket of `eagerBurst` packets refilled at `eagerRate` per
    /// second. News is rare in steady state, so every update goes out at once; in a storm (a mass
    /// failure, a partition) the excess falls back to lazy push and piggyback, which batch many
    /// updates per packet, so a node's packet rate stays bounded.
    public var eagerBurst: Int
    public var eagerRate: Double
    /// Members a node announces new updates to by digest (lazy push, Plumtree's IHAVE):
    /// `lazyFanoutBase + ceil(ln n)`, so that the chance a member hears neither copy nor digest
    /// falls with the cluster size.
    public var lazyFanoutBase: Int
    /// How long digests are collected before a lazy push: batches announcements and gives eager
    /// copies a head start, so that a digest rarely arrives before the update it names.
    public var lazyDelay: Duration
    /// Minimum time between two lazy pushes: in a storm, digests accumulate into full packets.
    public var lazySpacing: Duration
    /// After asking one announcer for a missing update, how long to wait before asking the next.
    public var graftTimeout: Duration
    /// Gossip tick: pending updates are piggybacked on probes and acks, and at this interval sent
    /// to `gossipFanout` members (memberlist's gossip). Runs only while something is pending.
    public var gossipInterval: Duration
    public var gossipFanout: Int
    /// How many times each update is retransmitted by piggyback after its eager push. Eager and
    /// lazy push already deliver; this is the bounded, newest-first safety net.
    public var piggybackTransmits: Int
    /// Queued updates older than this are dropped unsent: after a burst (a join storm) the queue
    /// would otherwise keep gossip ticks busy with old news for many seconds.
    public var piggybackMaxAge: Duration
    /// Largest datagram sent, in bytes (the shell passes it to the decoder as the largest
    /// accepted). 1,400 + 28 bytes of IPv4/UDP headers fit a 1,500-byte Ethernet MTU; tunnels
    /// with a smaller MTU (WireGuard's 1,420, IPv6's minimum 1,280) need a lower value, or
    /// datagrams are fragmented.
    public var maxPacketSize: Int

    // MARK: Anti-entropy and lifecycle

    /// How often a node compares tables with one random member (push-pull). The exchange starts
    /// with a summary (8-byte root hash and row count) and only descends into buckets that differ.
    public var pushPullInterval: Duration
    /// How often a node tries to sync with one random member it holds dead
    /// (memberlist's "gossip to the dead"), which is how healed partitions find each other.
    public var reconnectInterval: Duration
    /// How long dead and left members are remembered (tombstones) before they are forgotten.
    public var tombstoneRetention: Duration
    /// First delay between join attempts to the seeds; doubles up to `joinRetryMax`.
    public var joinRetryInitial: Duration
    public var joinRetryMax: Duration
    /// A joined node syncs again with a random member about this long after its join reply
    /// (0.5–1.5 ×), and again at that pace while its table keeps growing (up to
    /// `maxCatchUps` times): updates that spread before anyone knew to send them to it arrive
    /// then instead of at the next periodic push-pull.
    public var joinCatchUp: Duration

    public init(
        probeInterval: Duration, probeTimeout: Duration, indirectChecks: Int, awarenessMaxMultiplier: Int,
        suspicionMinTimeout: Duration, suspicionMaxTimeout: Duration, suspicionConfirmations: Int,
        eagerFanout: Int, eagerBurst: Int, eagerRate: Double, lazyFanoutBase: Int, lazyDelay: Duration,
        lazySpacing: Duration, graftTimeout: Duration,
        gossipInterval: Duration, gossipFanout: Int, piggybackTransmits: Int, piggybackMaxAge: Duration,
        maxPacketSize: Int,
        pushPullInterval: Duration, reconnectInterval: Duration, tombstoneRetention: Duration,
        joinRetryInitial: Duration, joinRetryMax: Duration, joinCatchUp: Duration
    ) {
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        self.indirectChecks = indirectChecks
        self.awarenessMaxMultiplier = awarenessMaxMultiplier
        self.suspicionMinTimeout = suspicionMinTimeout
        self.suspicionMaxTimeout = suspicionMaxTimeout
        self.suspicionConfirmations = suspicionConfirmations
        self.eagerFanout = eagerFanout
        self.eagerBurst = eagerBurst
        self.eagerRate = eagerRate
        self.lazySpacing = lazySpacing
        self.lazyFanoutBase = lazyFanoutBase
        self.lazyDelay = lazyDelay
        self.graftTimeout = graftTimeout
        self.gossipInterval = gossipInterval
        self.gossipFanout = gossipFanout
        self.piggybackTransmits = piggybackTransmits
        self.piggybackMaxAge = piggybackMaxAge
        self.maxPacketSize = maxPacketSize
        self.pushPullInterval = pushPullInterval
        self.reconnectInterval = reconnectInterval
        self.tombstoneRetention = tombstoneRetention
        self.joinRetryInitial = joinRetryInitial
        self.joinRetryMax = joinRetryMax
        self.joinCatchUp = joinCatchUp
    }

    /// A LAN: sub-millisecond round trips, rare loss. Probe 1 s / gossip 200 ms / fanout 3 as
    /// memberlist's DefaultLANConfig, probe timeout 300 ms (memberlist: 500 ms; a LAN round trip is
    /// under a millisecond and Lifeguard stretches the timeout of a node that is slow itself);
    /// suspicion 1.5–6 s so that a crash is dead everywhere within about 5 s while a suspected
    /// live node has over a second to refute (it takes about 0.1 s even at 10 % loss).
    public static let lan = GossipConfig(
        probeInterval: .seconds(1), probeTimeout: .milliseconds(300), indirectChecks: 3, awarenessMaxMultiplier: 8,
        suspicionMinTimeout: .milliseconds(1500), suspicionMaxTimeout: .seconds(6), suspicionConfirmations: 3,
        eagerFanout: 3, eagerBurst: 60, eagerRate: 60, lazyFanoutBase: 2, lazyDelay: .milliseconds(10),
        lazySpacing: .milliseconds(50), graftTimeout: .milliseconds(40),
        gossipInterval: .milliseconds(200), gossipFanout: 3, piggybackTransmits: 1, piggybackMaxAge: .seconds(2),
        maxPacketSize: 1400,
        pushPullInterval: .seconds(10), reconnectInterval: .seconds(2), tombstoneRetention: .seconds(120),
        joinRetryInitial: .seconds(1), joinRetryMax: .seconds(30), joinCatchUp: .seconds(1))

    /// Sites joined over the Internet: 10–300 ms round trips, some loss. Probe 5 s / timeout 3 s /
    /// gossip 500 ms / fanout 4 as memberlist's DefaultWANConfig; suspicion 10–60 s.
    public static let wan = GossipConfig(
        probeInterval: .seconds(5), probeTimeout: .seconds(3), indirectChecks: 3, awarenessMaxMultiplier: 8,
        suspicionMinTimeout: .seconds(10), suspicionMaxTimeout: .seconds(60), suspicionConfirmations: 3,
        eagerFanout: 4, eagerBurst: 40, eagerRate: 20, lazyFanoutBase: 2, lazyDelay: .milliseconds(100),
        lazySpacing: .milliseconds(250), graftTimeout: .milliseconds(600),
        gossipInterval: .milliseconds(500), gossipFanout: 4, piggybackTransmits: 2, piggybackMaxAge: .seconds(10),
        maxPacketSize: 1400,
        pushPullInterval: .seconds(60), reconnectInterval: .seconds(30), tombstoneRetention: .seconds(3600),
        joinRetryInitial: .seconds(2), joinRetryMax: .seconds(120), joinCatchUp: .seconds(5))

    /// Lazy-push fanout for a cluster of `n` live members.
    public func lazyFanout(members n: Int) -> Int {
        lazyFanoutBase + Int(Double(max(n, 1)).logE.rounded(.up))
    }

    /// The suspicion timeouts for a cluster of `n` live members.
    public func suspicionTimeouts(members n: Int) -> (min: Duration, max: Duration) {
        let scale = max(1.0, Double(max(n, 1)).log10 / 3)
        return (suspicionMinTimeout * scale, suspicionMaxTimeout * scale)
    }
}

extension Double {
    var logE: Double { log(self) }
    var log10: Double { log(self) / log(10.0) }
}
