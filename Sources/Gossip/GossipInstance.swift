import DequeModule
import HearsayModel

/// The gossip protocol of one node as a sans-IO state machine.
///
/// It holds the node's replicated table and reacts to inputs — a datagram, a stream message, a
/// timer — by returning directives: send this, schedule that, the table changed. It never reads
/// a clock (time is the `now` argument), never draws from global randomness (it owns a seeded
/// generator) and never touches a socket, so the same code runs under the deterministic
/// simulator (`HearsaySim`) and the SwiftNIO node.
///
/// The protocol, file by file:
/// - failure detection, SWIM with Lifeguard: `GossipInstance+Probe.swift`, `Suspicion.swift`;
/// - applying updates, refutation, suspicion and death: `GossipInstance+Apply.swift`;
/// - dissemination, eager push + lazy push (Plumtree) + piggyback: `GossipInstance+Dissemination.swift`;
/// - anti-entropy, join, reconnect and tombstones: `GossipInstance+AntiEntropy.swift`.
/// Docs/architecture.md tells how an update flows through them.
public struct GossipInstance: Sendable {
    public let config: GossipConfig
    public let identity: NodeIdentity
    let verifier: any EntryVerifier
    var rng: SeededRandom

    /// This node's own entry, as last signed.
    public internal(set) var me: SignedEntry
    public internal(set) var table: MemberTable
    public internal(set) var stats = GossipStats()
    /// Lifeguard's local health multiplier (LHA-Probe): 0 is healthy.
    public internal(set) var awareness = 0
    /// Round-trip time of the last successful direct probe of each member probed so far.
    public internal(set) var lastProbeRTT: [NodeID: Duration] = [:]

    var now: Instant = .zero
    var pending: [Directive] = []
    /// Where the datagram being handled came from, and who sent it: stale claims about this node
    /// are answered there.
    var replyTo: PeerAddress?
    var replyPeer: NodeID = .none
    /// Bytes and datagrams still allowed to `replyTo` while handling one datagram: no more than
    /// it carried (one datagram), unless that address is `proven`. No amplification.
    var replyBudget = Int.max
    var replyPackets = Int.max
    var challenged = false
    var reasserted = false
    /// While the updates of a ping are applied: this node's entry goes back inside the ack.
    var answeringPing = false
    var entryWanted = false
    /// Addresses that answered a ping sent to them with their member's key and the ping's random
    /// sequence number: they can receive there. Replies to these are not capped. Bounded, oldest
    /// forgotten first.
    var proven: Set<PeerAddress> = []
    var provenOrder: Deque<PeerAddress> = []
    /// Pings sent only to prove a source address, by sequence number (bounded).
    var challenges: [UInt32: Challenge] = [:]
    var challengeOrder: Deque<UInt32> = []

    // Probing.
    var probeSeq: UInt32 = 0
    var probe: ProbeState?
    var relays: [UInt32: Relay] = [:]
    var cursor = ProbeCursor()

    // Dissemination.
    var queue: BroadcastQueue
    var lazyPending: [Digest] = []
    var lazyArmed = false
    var gossipArmed = false
    var grafts: [NodeID: Graft] = [:]
    var eagerTokens: Double
    var eagerRefilledAt: Instant = .zero
    var lastLazyPush: Instant = Instant(nanoseconds: .min / 2)

    /// Foreign entries held, by the member that observes (and signs) them.
    var foreignCount: [NodeID: Int] = [:]
    /// Foreign entries one member may publish into this table.
    static let maxForeignPerOwner = 256

    // Suspicion and tombstones.
    var suspicions: [NodeID: Suspicion] = [:]
    /// Death claims heard before this node had held the suspicion long enough, by subject.
    var pendingDeaths: [NodeID: Claim] = [:]
    /// Verification pings in flight, by sequence number and by member.
    var verifying: [UInt32: NodeID] = [:]
    var verifications: [NodeID: Verification] = [:]
    var tombstones: Deque<NodeID> = []
    /// Members to probe before the round-robin order resumes (discovery hints).
    var probeFirst: [NodeID] = []

    // Lifecycle.
    var seeds: [PeerAddress] = []
    public internal(set) var joined = false
    var catchUpsLeft = 0
    var rowsAtLastCatchUp = -1
    var joinDelay: Duration
    public internal(set) var hasLeft = false

    /// A node starting from nothing: signs `entry` (which must carry `identity`'s key) and
    /// holds only itself until it joins.
    /// - Parameters:
    ///   - entry: this node's presence; its version's incarnation must exceed any it used before
    ///     (the shell persists it, or uses wall-clock seconds) so a restart refutes old rumours.
    ///   - seed: seeds the instance's generator: probe order, fanout choices, jitter.
    ///   - verifier: checks signatures of received entries.
    public init(
        config: GossipConfig, identity: NodeIdentity, entry: PresenceEntry, seed: UInt64,
        verifier: any EntryVerifier = Ed25519Verifier()
    ) throws(EntryError) {
        let signed = try SignedEntry.sign(entry, with: identity)
        var table = MemberTable()
        table.put(Member(entry: signed, state: .alive, claimIncarnation: 0, updatedAt: .zero, hops: 0))
        self.init(config: config, identity: identity, signed: signed, table: table, seed: seed, verifier: verifier)
    }

    /// A node starting from an existing table (warm start): the simulator uses it to start many
    /// nodes from one converged table, which they then share structurally. `signed` must be
    /// this node's row in `table`.
    public init(
        config: GossipConfig, identity: NodeIdentity, signed: SignedEntry, table: MemberTable, seed: UInt64,
        verifier: any EntryVerifier
    ) {
        precondition(signed.owner == identity.id)
        self.config = config
        self.identity = identity
        self.verifier = verifier
        self.rng = SeededRandom(seed: seed)
        self.me = signed
        self.table = table
        self.queue = BroadcastQueue(limit: config.piggybackTransmits, maxAge: config.piggybackMaxAge)
        self.joinDelay = config.joinRetryInitial
        self.eagerTokens = Double(config.eagerBurst)
        self.joined = table.count > 1
    }

    public var id: NodeID { identity.id }

    // MARK: Public inputs

    /// Starts the timers (each at a random phase, as independent processes would be) and joins
    /// `seeds`, if any, retrying with backoff until one answers.
    public mutating func start(seeds: [PeerAddress], now: Instant) -> [Directive] {
        begin(now)
        self.seeds = seeds
        if seeds.isEmpty { joined = true }  // the first node: nothing to join
        schedule(.probe, after: config.probeInterval * rng.unit())
        schedule(.pushPull, after: config.pushPullInterval * (0.5 + rng.unit()))
        schedule(.reconnect, after: config.reconnectInterval * (0.5 + rng.unit()))
        schedule(.reap, after: reapInterval)
        if !seeds.isEmpty && !joined {
            sendJoin()
            schedule(.joinRetry, after: joinDelay)
        }
        return finish()
    }

    public mutating func handle(_ input: GossipInput, now: Instant) -> [Directive] {
        begin(now)
        switch input {
        case .datagram(let m, let from, let sender): receiveDatagram(m, from: from, sender: sender)
        case .stream(let m, let from, let conversation): receiveStream(m, from: from, conversation: conversation)
        case .timer(let t): fire(t)
        }
        return finish()
    }

    /// Changes this node's own entry (status, text, handle, addresses...) and spreads it.
    public mutating func update(now: Instant, _ change: (inout PresenceEntry) -> Void) throws(EntryError) -> [Directive] {
        begin(now)
        var e = me.entry
        change(&e)
        e.publicKey = identity.publicKey
        e.version = EntryVersion(incarnation: me.version.incarnation, sequence: me.version.sequence + 1)
        try publishSelf(e)
        return finish()
    }

    public mutating func setStatus(_ status: PresenceStatus, text: String? = nil, now: Instant) throws(EntryError)
        -> [Directive]
    {
        try update(now: now) {
            $0.status = status
            if let text { $0.statusText = text }
        }
    }

    /// Graceful leave: publishes a signed `left` entry to everyone and stops probing. The shell
    /// should keep delivering for a moment (a few gossip rounds) before it closes its sockets.
    public mutating func leave(now: Instant) -> [Directive] {
        begin(now)
        var e = me.entry
        e.flags.insert(.left)
        e.status = .offline
        e.version.sequence += 1
        try? publishSelf(e)
        hasLeft = true
        return finish()
    }

    // MARK: Plumbing

    mutating func begin(_ now: Instant) {
        self.now = now
        pending.removeAll(keepingCapacity: true)
        replyTo = nil
        replyPeer = .none
        replyBudget = .max
        replyPackets = .max
        challenged = false
        reasserted = false
        answeringPing = false
        entryWanted = false
    }

    mutating func finish() -> [Directive] {
        let out = pending
        pending.removeAll(keepingCapacity: true)
        return out
    }

    /// Sends a datagram to member `peer` at `address`. A reply to an unproven source (the one the
    /// datagram being handled came from) that would exceed what it sent, in bytes or datagrams,
    /// is not sent (`GossipStats.amplificationRefused`); a small ping challenges that address
    /// instead, so that the next exchange is not capped.
    @discardableResult
    mutating func send(_ m: GossipMessage, to peer: NodeID, at address: PeerAddress) -> Bool {
        if address == replyTo && replyBudget != .max {
            let size = GossipCodec.encodedSize(m)
            guard size <= replyBudget, replyPackets > 0 else {
                stats.amplificationRefused += 1
                challenge(peer, at: address)
                return false
            }
            replyBudget -= size
            replyPackets -= 1
        }
        pending.append(.send(m, to: address, peer: peer))
        return true
    }

    /// Bytes a reply to the datagram being handled may still take (for piggybacking).
    var replyRoom: Int { replyPackets > 0 ? replyBudget : 0 }

    /// Challenges `peer` at `address`, once per datagram handled, if that fits the reply budget:
    /// its response proves the address.
    mutating func challenge(_ peer: NodeID, at address: PeerAddress) {
        guard !challenged, peer != .none, peer != id else { return }
        challenged = true
        let seq = nextSeq()
        let m = GossipMessage.challenge(seq: seq)
        let size = GossipCodec.encodedSize(m)
        guard size <= replyBudget, replyPackets > 0 else { return }
        replyBudget -= size
        replyPackets -= 1
        stats.challenges += 1
        challenges[seq] = Challenge(peer: peer, address: address, sentAt: now)
        challengeOrder.append(seq)
        while challengeOrder.count > Self.maxChallenges { challenges[challengeOrder.removeFirst()] = nil }
        pending.append(.send(m, to: address, peer: peer))
    }

    /// Whether a challenge to `address` was sent less than `window` ago.
    func isChallenging(_ address: PeerAddress, within window: Duration) -> Bool {
        let horizon = now + .nanoseconds(-window.nanoseconds)
        return challenges.values.contains { $0.address == address && $0.sentAt > horizon }
    }

    /// A response to a challenge: from the member challenged, at the address challenged.
    mutating func receivedResponse(seq: UInt32, from address: PeerAddress, sender: NodeID) {
        guard let c = challenges[seq], c.peer == sender, c.address == address else { return spoofedAck() }
        challenges[seq] = nil
        prove(address)
        graftWaiting(on: GraftSource(peer: sender, address: address))
        if !c.deferred.isEmpty { receivedGraft(c.deferred, from: address, sender: sender) }
    }

    static let maxChallenges = 64
    static let maxProven = 256

    /// `address` answered a ping sent to it with the key of the member it belongs to.
    mutating func prove(_ address: PeerAddress) {
        if address == replyTo {  // proven now: the rest of this exchange is not capped
            replyBudget = .max
            replyPackets = .max
        }
        guard proven.insert(address).inserted else { return }
        provenOrder.append(address)
        while provenOrder.count > Self.maxProven { proven.remove(provenOrder.removeFirst()) }
    }

    /// Sends a datagram to member `peer` at the gossip address of its entry, if it has one.
    mutating func send(_ m: GossipMessage, to peer: NodeID) {
        guard let a = address(of: peer) else { return }
        send(m, to: peer, at: a)
    }

    /// Whether `sender` is a node of the table that may send datagrams here.
    func isMember(_ sender: NodeID) -> Bool {
        sender != id && table[sender]?.isNode == true
    }

    /// The next probe sequence number: random, so that nobody can guess one to answer.
    mutating func nextSeq() -> UInt32 {
        while true {
            let s = UInt32(truncatingIfNeeded: rng.next())
            if s != 0 && relays[s] == nil && verifying[s] == nil && challenges[s] == nil && probe?.seq != s {
                return s
            }
        }
    }

    mutating func stream(_ m: GossipMessage, to: PeerAddress, conversation: UInt64 = 0) {
        pending.append(.stream(m, to: to, conversation: conversation))
    }

    mutating func schedule(_ t: TimerID, after d: Duration) { pending.append(.schedule(t, at: now + d)) }

    mutating func emit(_ id: NodeID, previous: MemberState?) {
        guard let m = table[id] else { return }
        pending.append(.event(MembershipEvent(
            id: id, entry: m.entry, previous: previous, state: m.state, precedence: m.precedence, hops: m.hops, at: now)))
    }

    mutating func fire(_ t: TimerID) {
        switch t {
        case .probe: probeTick()
        case .probeTimeout(let seq): probeTimedOut(seq)
        case .relayTimeout(let seq): relayTimedOut(seq)
        case .gossip: gossipTick()
        case .lazyPush: lazyPushTick()
        case .graft(let id): graftTimedOut(id)
        case .suspicion(let id): suspicionTimedOut(id)
        case .pushPull: pushPullTick()
        case .reconnect: reconnectTick()
        case .reap: reapTick()
        case .joinRetry: joinRetryTick()
        case .catchUp: catchUpTick()
        case .verifyTimeout(let subject): verifyTimedOut(subject)
        }
    }

    /// Live members other than this node.
    var othersLive: Int { table.liveCount - (table[id]?.state.isLive == true ? 1 : 0) }

    func address(of id: NodeID) -> PeerAddress? { table[id]?.entry.entry.gossipAddress }

    /// Signs and installs a new version of this node's entry, then spreads it.
    mutating func publishSelf(_ e: PresenceEntry) throws(EntryError) {
        let signed = try SignedEntry.sign(e, with: identity)
        me = signed
        let previous = table[id]?.state
        table.put(Member(
            entry: signed, state: e.flags.contains(.left) ? .left : .alive, claimIncarnation: 0, updatedAt: now,
            hops: 0))
        emit(id, previous: previous)
        forward([Update(.entry(signed), hops: 0)], origin: true)
    }
}
