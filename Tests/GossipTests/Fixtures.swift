@testable import Gossip
import HearsayModel
import Testing

/// Shared test data for the gossip tests: deterministic identities, entries and instances, and
/// helpers to read the directives an instance returns.
enum Fx {
    static let config = GossipConfig.lan
    static let verifier = Ed25519Verifier()

    /// 64 reproducible identities; node `i` listens at `address(i)`.
    static let identities: [NodeIdentity] = (0..<64).map { i in
        var rng = SeededRandom(seed: 0xC0FFEE + UInt64(i))
        return NodeIdentity.deterministic(using: &rng)
    }

    static func identity(_ i: Int) -> NodeIdentity { identities[i] }
    static func id(_ i: Int) -> NodeID { identities[i].id }

    /// 10.0.0.i:7946
    static func address(_ i: Int) -> PeerAddress {
        PeerAddress(host: .ipv4(10, 0, 0, UInt8(i)), port: 7946)
    }

    static func entry(
        _ i: Int, inc: UInt64 = 1, seq: UInt64 = 0, status: PresenceStatus = .available, text: String = "",
        flags: PresenceEntry.Flags = []
    ) -> PresenceEntry {
        PresenceEntry(
            publicKey: identity(i).publicKey, handle: "node-\(i)", addresses: [address(i).host],
            gossipPort: address(i).port, chatPort: 7947, status: status, statusText: text,
            version: EntryVersion(incarnation: inc, sequence: seq), flags: flags)
    }

    static func signed(
        _ i: Int, inc: UInt64 = 1, seq: UInt64 = 0, status: PresenceStatus = .available, text: String = "",
        flags: PresenceEntry.Flags = []
    ) -> SignedEntry {
        try! SignedEntry.sign(entry(i, inc: inc, seq: seq, status: status, text: text, flags: flags), with: identity(i))
    }

    /// A foreign-realm user observed by node `i` (not a SWIM member).
    static func foreign(_ i: Int, name: String, seq: UInt64 = 0) -> SignedEntry {
        var e = entry(i, seq: seq)
        e.foreignName = name
        e.realm = "xmpp-ll"
        e.protocolName = "xmpp"
        e.gossipPort = 0
        return try! SignedEntry.sign(e, with: identity(i))
    }

    /// The Fx identity with id `id`, if there is one.
    static func identity(of id: NodeID) -> NodeIdentity? { identities.first { $0.id == id } }

    /// A claim signed by `from` if it is an Fx identity; unsigned (64 zero bytes) otherwise.
    static func claim(_ kind: Claim.Kind, _ subject: NodeID, incarnation: UInt64, from: NodeID) -> Claim {
        if let i = identity(of: from) { return Claim.make(kind, subject: subject, incarnation: incarnation, by: i) }
        return Claim(kind: kind, subject: subject, incarnation: incarnation, claimant: from,
                     signature: [UInt8](repeating: 0, count: Claim.signatureSize))
    }

    /// A row; a suspect or dead one carries a claim by node 2 (or `claimant`).
    static func member(
        _ e: SignedEntry, state: MemberState = .alive, claim: UInt64 = 0, at: Instant = .zero, claimant: Int = 2
    ) -> Member {
        let c: Claim? = switch state {
        case .suspect: Fx.claim(.suspect, e.id, incarnation: claim, from: id(claimant))
        case .dead: Fx.claim(.dead, e.id, incarnation: claim, from: id(claimant))
        default: nil
        }
        return Member(entry: e, state: state, claimIncarnation: claim, claimant: c?.claimant ?? .none, claim: c,
                      updatedAt: at, hops: 1)
    }

    /// A table holding nodes `ids` alive at version 1.0, with `overrides` replacing or adding rows.
    static func table(_ ids: [Int], overrides: [Member] = []) -> MemberTable {
        var t = MemberTable()
        for i in ids { t.put(member(signed(i))) }
        for m in overrides { t.put(m) }
        return t
    }

    /// Node `i`, warm-started with a table that holds itself and `others` alive at version 1.0
    /// (plus `overrides`). Its own entry is version 1.0. Unless `proven` is false, the addresses
    /// of `others` have proven themselves (as after a round of probes): replies to them are not
    /// capped, and pushes from them are not answered with a challenge.
    static func instance(
        _ i: Int, knowing others: [Int], overrides: [Member] = [], config: GossipConfig = Fx.config, seed: UInt64 = 7,
        proven: Bool = true
    ) -> GossipInstance {
        let mine = signed(i)
        var t = table(others, overrides: overrides)
        t.put(Member(entry: mine, state: .alive, claimIncarnation: 0, updatedAt: .zero, hops: 0))
        var node = GossipInstance(config: config, identity: identity(i), signed: mine, table: t, seed: seed, verifier: verifier)
        if proven { for o in others { node.prove(address(o)) } }
        return node
    }

    static func at(_ seconds: Double) -> Instant { Instant(nanoseconds: Int64((seconds * 1e9).rounded())) }
}

// MARK: Driving an instance

extension GossipInstance {
    /// Delivers a datagram from node `i`'s address, tagged by node `i` (as the shell has checked).
    mutating func deliver(_ m: GossipMessage, from i: Int, at t: Instant = .zero) -> [Directive] {
        handle(.datagram(m, from: Fx.address(i), sender: Fx.id(i)), now: t)
    }

    mutating func deliverStream(_ m: GossipMessage, from a: PeerAddress, conversation: UInt64 = 1, at t: Instant = .zero)
        -> [Directive]
    {
        handle(.stream(m, from: a, conversation: conversation), now: t)
    }

    mutating func tick(_ timer: TimerID, at t: Instant) -> [Directive] {
        handle(.timer(timer), now: t)
    }
}

// MARK: Reading directives

extension Array where Element == Directive {
    var sends: [(message: GossipMessage, to: PeerAddress)] {
        compactMap { if case .send(let m, let to, _) = $0 { (m, to) } else { nil } }
    }

    var streams: [(message: GossipMessage, to: PeerAddress, conversation: UInt64)] {
        compactMap { if case .stream(let m, let to, let c) = $0 { (m, to, c) } else { nil } }
    }

    var schedules: [(timer: TimerID, at: Instant)] {
        compactMap { if case .schedule(let t, let at) = $0 { (t, at) } else { nil } }
    }

    var events: [MembershipEvent] {
        compactMap { if case .event(let e) = $0 { e } else { nil } }
    }

    /// Datagrams of one kind, picked out by `pick`, with their destinations.
    func sent<T>(_ pick: (GossipMessage) -> T?) -> [(T, to: PeerAddress)] {
        sends.compactMap { s in pick(s.message).map { ($0, s.to) } }
    }

    var pings: [(Ping, to: PeerAddress)] { sent(\.asPing) }
    var acks: [(Ack, to: PeerAddress)] { sent(\.asAck) }
    var pingReqs: [(PingReq, to: PeerAddress)] { sent(\.asPingReq) }
    var nacks: [((seq: UInt32, from: NodeID), to: PeerAddress)] { sent(\.asNack) }
    var pushes: [([Update], to: PeerAddress)] { sent(\.asPush) }
    var grafts: [([Digest], to: PeerAddress)] { sent(\.asGraft) }

    /// When the directives schedule `timer`, if they do.
    func scheduled(_ timer: TimerID) -> Instant? { schedules.first { $0.timer == timer }?.at }
}

typealias Ping = (seq: UInt32, from: NodeID, target: NodeID, updates: [Update])
typealias Ack = (seq: UInt32, from: NodeID, updates: [Update])
typealias PingReq = (seq: UInt32, from: NodeID, target: NodeID, address: PeerAddress, updates: [Update])

extension GossipMessage {
    var asPing: Ping? { if case .ping(let s, let f, let t, let u) = self { (s, f, t, u) } else { nil } }
    var asAck: Ack? { if case .ack(let s, let f, let u) = self { (s, f, u) } else { nil } }
    var asPingReq: PingReq? {
        if case .pingReq(let s, let f, let t, let a, let u) = self { (s, f, t, a, u) } else { nil }
    }
    var asNack: (seq: UInt32, from: NodeID)? { if case .nack(let s, let f) = self { (s, f) } else { nil } }
    var asPush: [Update]? { if case .push(let u) = self { u } else { nil } }
    var asIHave: [Digest]? { if case .ihave(let d) = self { d } else { nil } }
    var asGraft: [Digest]? { if case .graft(let d) = self { d } else { nil } }
}

extension Update {
    func isEntry(of id: NodeID) -> Bool { entry?.id == id }

    func isSuspect(_ id: NodeID, incarnation: UInt64? = nil) -> Bool {
        guard let c = claim, c.kind == .suspect else { return false }
        return c.subject == id && (incarnation.map { $0 == c.incarnation } ?? true)
    }

    func isDead(_ id: NodeID, incarnation: UInt64? = nil) -> Bool {
        guard let c = claim, c.kind == .dead else { return false }
        return c.subject == id && (incarnation.map { $0 == c.incarnation } ?? true)
    }
}

/// The claims of the old wire, signed by their claimant when it is an Fx identity.
extension Update.Kind {
    static func suspect(id: NodeID, incarnation: UInt64, from: NodeID) -> Update.Kind {
        .claim(Fx.claim(.suspect, id, incarnation: incarnation, from: from))
    }

    static func dead(id: NodeID, incarnation: UInt64, from: NodeID) -> Update.Kind {
        .claim(Fx.claim(.dead, id, incarnation: incarnation, from: from))
    }
}

extension SyncRecord {
    /// A record whose claim (for suspect and dead) is signed by `claimant` (node 2 by default).
    init(entry: SignedEntry, state: MemberState, claimIncarnation: UInt64, claimant: NodeID = Fx.id(2)) {
        let c: Claim? = switch state {
        case .suspect: Fx.claim(.suspect, entry.id, incarnation: claimIncarnation, from: claimant)
        case .dead: Fx.claim(.dead, entry.id, incarnation: claimIncarnation, from: claimant)
        default: nil
        }
        self.init(entry: entry, state: state, claim: c)
    }
}

/// The `WireError` that `body` throws, or nil if it returns. Any other error is a test failure.
func wireError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> WireError? {
    do {
        try body()
        return nil
    } catch let error as WireError {
        return error
    } catch {
        Issue.record("expected a WireError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
