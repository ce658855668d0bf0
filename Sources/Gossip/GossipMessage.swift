import HearsayModel

/// Everything nodes say to each other. Datagrams (UDP) carry probes and dissemination and are at
/// most `GossipConfig.maxPacketSize` bytes; stream messages (TCP) carry anti-entropy.
/// Byte layouts: Docs/protocols/gossip-wire.md.
public enum GossipMessage: Sendable {
    // Datagrams.
    /// SWIM ping (§4.1): `target` is who the sender thinks it is talking to.
    case ping(seq: UInt32, from: NodeID, target: NodeID, updates: [Update])
    case ack(seq: UInt32, from: NodeID, updates: [Update])
    /// SWIM ping-req (§4.1): please probe `target` at `address` for me.
    case pingReq(seq: UInt32, from: NodeID, target: NodeID, address: PeerAddress, updates: [Update])
    /// Lifeguard nack (§IV.A): the relay got no ack from the target in time.
    case nack(seq: UInt32, from: NodeID)
    /// Updates: eager push, gossip tick, answer to a graft.
    case push(updates: [Update])
    /// Lazy push: digests of updates the sender holds.
    case ihave(digests: [Digest])
    /// Please send your update about each of these members.
    case graft(digests: [Digest])
    /// Address validation: whoever receives this at the address it was sent to answers with a
    /// `response` naming the same random `seq`. No larger than anything it is sent instead of.
    case challenge(seq: UInt32)
    case response(seq: UInt32)

    // Stream messages (anti-entropy, join).
    case syncRequest(SyncRequest)
    /// The responder's bucket hashes, sent when the summaries differ.
    case syncBuckets(root: UInt64, buckets: [UInt64])
    /// The initiator's digest of the buckets that differ.
    case syncDigest(buckets: [UInt8], digests: [Digest])
    /// Rows the receiver lacks or holds older, and ids the sender wants rows for.
    case syncRecords(records: [SyncRecord], wants: [NodeID])
    /// The summaries matched: nothing to exchange.
    case syncEqual

    public var isStream: Bool {
        switch self {
        case .syncRequest, .syncBuckets, .syncDigest, .syncRecords, .syncEqual: true
        default: false
        }
    }

    /// The message type byte on the wire (append-only).
    public var typeCode: UInt8 {
        switch self {
        case .ping: 1
        case .ack: 2
        case .pingReq: 3
        case .nack: 4
        case .push: 5
        case .ihave: 6
        case .graft: 7
        case .challenge: 8
        case .response: 9
        case .syncRequest: 16
        case .syncBuckets: 17
        case .syncDigest: 18
        case .syncRecords: 19
        case .syncEqual: 20
        }
    }

    public var name: String {
        switch self {
        case .ping: "ping"
        case .ack: "ack"
        case .pingReq: "ping-req"
        case .nack: "nack"
        case .push: "push"
        case .ihave: "ihave"
        case .graft: "graft"
        case .challenge: "challenge"
        case .response: "response"
        case .syncRequest: "sync-request"
        case .syncBuckets: "sync-buckets"
        case .syncDigest: "sync-digest"
        case .syncRecords: "sync-records"
        case .syncEqual: "sync-equal"
        }
    }

    /// The updates a datagram carries (piggybacked or pushed).
    public var updates: [Update] {
        switch self {
        case .ping(_, _, _, let u), .ack(_, _, let u), .pingReq(_, _, _, _, let u), .push(let u): u
        default: []
        }
    }
}

/// Opens an anti-entropy exchange.
public struct SyncRequest: Sendable {
    public enum Kind: UInt8, Sendable {
        /// A new node: the responder answers with its whole table.
        case join = 0
        /// Periodic push-pull with a random live member.
        case periodic = 1
        /// Push-pull with a member held dead: how healed partitions meet again.
        case reconnect = 2
        /// Read-only: answer with the whole table, learn nothing (`hearsay table --diff`).
        case inspect = 3
    }

    public var kind: Kind
    public var from: NodeID
    /// XOR of all row hashes, and the number of rows (see `MemberTable`).
    public var root: UInt64
    public var count: UInt32
    /// On join: the joiner's own rows, so the responder can spread them at once.
    public var records: [SyncRecord]

    public init(kind: Kind, from: NodeID, root: UInt64, count: UInt32, records: [SyncRecord]) {
        self.kind = kind
        self.from = from
        self.root = root
        self.count = count
        self.records = records
    }
}
