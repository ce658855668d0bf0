import Gossip
import HeapModule
import HearsayModel

/// A discrete-event simulator: many `GossipInstance`s, one virtual clock, one simulated network.
///
/// Events (a delivery, a timer) are kept in a heap ordered by (time, sequence number); each is
/// handed to its node's instance, whose directives become new events. Nothing depends on wall
/// time or on hash-table order, so a seed reproduces a run exactly.
public final class Simulator {
    public struct Node {
        public var instance: GossipInstance?
        public let identity: NodeIdentity
        public let address: PeerAddress
        /// Bumped at every crash so that the timers of a previous life are ignored.
        var life: UInt32 = 0
        public var isUp: Bool { instance != nil }
    }

    struct Event: Comparable {
        enum Kind {
            case deliver(node: Int32, from: PeerAddress, message: GossipMessage, stream: Bool, conversation: UInt64)
            case timer(node: Int32, life: UInt32, TimerID)
            case wake
        }

        let time: Int64
        let seq: UInt64
        let kind: Kind

        static func < (a: Event, b: Event) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }
        static func == (a: Event, b: Event) -> Bool { a.time == b.time && a.seq == b.seq }
    }

    public private(set) var nodes: [Node] = []
    public private(set) var now: Instant = .zero
    public let config: GossipConfig
    public var network: NetworkModel
    public let metrics: SimMetrics
    /// Re-encode and decode every message on its way (exercises the codec; slower).
    public var checkWire = false
    static let wireKey = PairKey(testingBytes: Array(repeating: 0x5a, count: 32))
    public private(set) var eventsProcessed = 0
    /// The most events waiting in the heap at once: deliveries and timers, the simulator's own
    /// per-node state (a node's table, queues and suspicions grow with it).
    public private(set) var peakQueuedEvents = 0

    var heap = Heap<Event>()
    var seq: UInt64 = 0
    var rng: SeededRandom
    var nextConversation: UInt64 = 1
    let verifier = MemoizingVerifier()
    /// Side of the partition each node is on, while one is in force.
    var sides: [UInt8]?

    public static let gossipPort: UInt16 = 7946

    public init(config: GossipConfig, network: NetworkModel, seed: UInt64) {
        self.config = config
        self.network = network
        self.rng = SeededRandom(seed: seed)
        self.metrics = SimMetrics()
    }

    /// 10.a.b.c, the index in the last three bytes.
    public static func address(of index: Int) -> PeerAddress {
        PeerAddress(host: .ipv4(10, UInt8((index >> 16) & 0xff), UInt8((index >> 8) & 0xff), UInt8(index & 0xff)),
                    port: gossipPort)
    }

    @inline(__always)
    static func index(of a: PeerAddress) -> Int? {
        let b = a.host.bytes
        guard b.count == 4, b[0] == 10 else { return nil }
        return Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])
    }

    func entry(for identity: NodeIdentity, index: Int, incarnation: UInt64) -> PresenceEntry {
        PresenceEntry(publicKey: identity.publicKey, handle: "node-\(index)", addresses: [Self.address(of: index).host],
                      gossipPort: Self.gossipPort, chatPort: 7947,
                      version: EntryVersion(incarnation: incarnation, sequence: 0))
    }

    /// Creates `n` node identities (deterministic keys) without starting them.
    public func addNodes(_ n: Int) {
        for _ in 0..<n {
            let i = nodes.count
            nodes.append(Node(instance: nil, identity: NodeIdentity.deterministic(using: &rng), address: Self.address(of: i)))
        }
        metrics.resize(nodes.count, ids: nodes.map(\.identity.id))
    }

    /// Starts node `i` from nothing; it joins `seeds`.
    public func start(_ i: Int, seeds: [Int], incarnation: UInt64 = 1) {
        let id = nodes[i].identity
        var inst = try! GossipInstance(config: config, identity: id, entry: entry(for: id, index: i, incarnation: incarnation),
                                       seed: rng.next(), verifier: verifier)
        let ds = inst.start(seeds: seeds.map(Self.address(of:)), now: now)
        nodes[i].instance = inst
        metrics.nodeStarted(i, knownLive: 0)
        apply(ds, from: i)
    }

    /// Starts every node from one converged table (warm start), shared structurally.
    public func startConverged() {
        var table = MemberTable()
        var signed = [SignedEntry]()
        for (i, n) in nodes.enumerated() {
            let e = try! SignedEntry.sign(entry(for: n.identity, index: i, incarnation: 1), with: n.identity)
            signed.append(e)
            table.put(Member(entry: e, state: .alive, claimIncarnation: 0, updatedAt: now, hops: 0))
        }
        for i in nodes.indices {
            var inst = GossipInstance(config: config, identity: nodes[i].identity, signed: signed[i], table: table,
                                      seed: rng.next(), verifier: verifier)
            let ds = inst.start(seeds: [], now: now)
            nodes[i].instance = inst
            metrics.nodeStarted(i, knownLive: nodes.count - 1)
            apply(ds, from: i)
        }
    }

    /// Kills node `i` without a word (kill -9): its timers die with it, packets to it are lost.
    public func crash(_ i: Int) {
        nodes[i].instance = nil
        nodes[i].life &+= 1
        metrics.nodeStopped(i)
    }

    /// Restarts a crashed node with the same identity and a higher incarnation; it joins `seeds`.
    public func restart(_ i: Int, seeds: [Int], incarnation: UInt64) {
        start(i, seeds: seeds, incarnation: incarnation)
    }

    /// Performs an action on a running node's instance (status change, leave) and routes its directives.
    public func act(_ i: Int, _ body: (inout GossipInstance, Instant) -> [Directive]) {
        guard var inst = nodes[i].instance else { return }
        nodes[i].instance = nil
        let ds = body(&inst, now)
        nodes[i].instance = inst
        apply(ds, from: i)
    }

    /// Splits the network: packets between nodes on different sides are lost.
    public func partition(_ side: [UInt8]) { sides = side }
    public func heal() { sides = nil }
    public var isPartitioned: Bool { sides != nil }

    @inline(__always)
    func cut(_ a: Int, _ b: Int) -> Bool {
        guard let s = sides else { return false }
        return s[a] != s[b]
    }

    func push(_ kind: Event.Kind, at t: Int64) {
        seq &+= 1
        heap.insert(Event(time: max(t, now.nanoseconds), seq: seq, kind: kind))
        peakQueuedEvents = max(peakQueuedEvents, heap.count)
    }

    func apply(_ directives: [Directive], from i: Int) {
        for d in directives {
            switch d {
            case .send(var m, let to, _):
                let size = GossipCodec.encodedSize(m)
                metrics.sent(from: i, message: m, bytes: size + 28, packets: 1)
                guard let j = Self.index(of: to), j < nodes.count else { continue }
                if network.dropped(using: &rng) || cut(i, j) { continue }
                if checkWire {
                    // The real bytes, tagged under a key of the simulator's (nodes here are honest; the
                    // tag is checked so that the trailer's layout is exercised too).
                    let bytes = GossipCodec.encodeDatagram(m, sender: nodes[i].identity.id, tag: Self.wireKey.tag)
                    let d = try! GossipCodec.decodeDatagram(bytes, maxSize: config.maxPacketSize)
                    precondition(d.sender == nodes[i].identity.id && Self.wireKey.isValid(tag: d.tag, for: d.authenticated))
                    m = d.message
                }
                push(.deliver(node: Int32(j), from: nodes[i].address, message: m, stream: false, conversation: 0),
                     at: now.nanoseconds + network.latency(using: &rng))
            case .stream(var m, let to, let conversation):
                // TCP: 40 bytes of headers per 1,460-byte segment; opening and closing a
                // connection costs 7 more packets (handshake, FINs and their acks).
                let size = GossipCodec.encodedSize(m)
                let segments = 1 + size / 1460
                let setup = conversation == 0 ? 7 : 0
                metrics.sent(from: i, message: m, bytes: size + 40 * (segments + setup), packets: segments + setup)
                guard let j = Self.index(of: to), j < nodes.count, !cut(i, j) else { continue }
                var delay = network.latency(using: &rng)
                for _ in 0..<min(segments, 8) where network.dropped(using: &rng) {
                    delay += network.retransmissionTimeout.nanoseconds
                }
                if checkWire { m = try! GossipCodec.decodeStream(GossipCodec.encode(m)) }
                var conv = conversation
                if conv == 0 {
                    conv = nextConversation
                    nextConversation += 1
                }
                push(.deliver(node: Int32(j), from: nodes[i].address, message: m, stream: true, conversation: conv),
                     at: now.nanoseconds + delay)
            case .schedule(let t, let at):
                push(.timer(node: Int32(i), life: nodes[i].life, t), at: at.nanoseconds)
            case .event(let e):
                metrics.observed(by: i, e)
            }
        }
    }

    /// Processes events until `deadline`, or until `stop()` holds (checked before each event).
    public func run(until deadline: Instant, stop: () -> Bool = { false }) {
        // Wake-ups take no sequence number, so how a run is sliced into `run` calls (progress
        // logging, measurement loops) cannot change the order of the simulated events.
        heap.insert(Event(time: max(deadline.nanoseconds, now.nanoseconds), seq: 0, kind: .wake))
        while !stop(), let e = heap.popMin() {
            now = Instant(nanoseconds: e.time)
            switch e.kind {
            case .wake:
                if now >= deadline { return }
            case .deliver(let node, let from, let message, let stream, let conversation):
                eventsProcessed += 1
                let i = Int(node)
                guard var inst = nodes[i].instance else { continue }
                nodes[i].instance = nil
                let input: GossipInput
                if stream {
                    input = .stream(message, from: from, conversation: conversation)
                } else {
                    // Who sent it: the node at that address (the simulator's nodes do not spoof).
                    guard let k = Self.index(of: from), k < nodes.count else { continue }
                    input = .datagram(message, from: from, sender: nodes[k].identity.id)
                }
                let ds = inst.handle(input, now: now)
                nodes[i].instance = inst
                apply(ds, from: i)
            case .timer(let node, let life, let t):
                eventsProcessed += 1
                let i = Int(node)
                guard nodes[i].life == life, var inst = nodes[i].instance else { continue }
                nodes[i].instance = nil
                let ds = inst.handle(.timer(t), now: now)
                nodes[i].instance = inst
                apply(ds, from: i)
            }
        }
        if heap.isEmpty { now = max(now, deadline) }
    }
}
