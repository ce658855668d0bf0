import HearsayModel

/// One piece of news about a member, as disseminated by gossip.
public struct Update: Sendable {
    public enum Kind: Sendable {
        /// A signed entry: join, status change, refutation (higher incarnation), graceful leave.
        case entry(SignedEntry)
        /// `from` suspects `id` at `incarnation`.
        case suspect(id: NodeID, incarnation: UInt64, from: NodeID)
        /// `from` declares `id` dead at `incarnation`.
        case dead(id: NodeID, incarnation: UInt64, from: NodeID)
    }

    public var kind: Kind
    /// Hops travelled before this transmission (0 from the originator). Not signed: transport metadata.
    public var hops: UInt8

    public init(_ kind: Kind, hops: UInt8 = 0) {
        self.kind = kind
        self.hops = hops
    }

    public var subject: NodeID {
        switch kind {
        case .entry(let e): e.id
        case .suspect(let id, _, _), .dead(let id, _, _): id
        }
    }

    public var precedence: Precedence {
        switch kind {
        case .entry(let e): .entry(e.version)
        case .suspect(_, let inc, _): .suspect(inc)
        case .dead(_, let inc, _): .dead(inc)
        }
    }

    public var entry: SignedEntry? {
        if case .entry(let e) = kind { return e }
        return nil
    }

    /// Encoded size in bytes (see GossipCodec).
    public var encodedSize: Int {
        switch kind {
        case .entry(let e): 2 + e.encodedSize
        case .suspect(_, let inc, _), .dead(_, let inc, _): 2 + 16 + ByteWriter.varintSize(inc) + 16
        }
    }
}

/// A lazy-push announcement (IHAVE) or a request for it (GRAFT): "member `id` at `precedence`".
public struct Digest: Hashable, Sendable {
    public var id: NodeID
    public var precedence: Precedence

    public init(id: NodeID, precedence: Precedence) {
        self.id = id
        self.precedence = precedence
    }

    public var encodedSize: Int {
        16 + ByteWriter.varintSize(precedence.incarnation) + 1 + ByteWriter.varintSize(precedence.sequence)
    }
}

/// A whole row, as exchanged by anti-entropy.
public struct SyncRecord: Sendable {
    public var entry: SignedEntry
    public var state: MemberState
    public var claimIncarnation: UInt64
    /// Who made the `suspect` or `dead` claim (on the wire only for those states).
    public var claimant: NodeID

    public init(entry: SignedEntry, state: MemberState, claimIncarnation: UInt64, claimant: NodeID = .none) {
        self.entry = entry
        self.state = state
        self.claimIncarnation = claimIncarnation
        self.claimant = state == .suspect || state == .dead ? claimant : .none
    }

    var hasClaim: Bool { state == .suspect || state == .dead }

    public var encodedSize: Int {
        entry.encodedSize + 1 + ByteWriter.varintSize(claimIncarnation) + (hasClaim ? 16 : 0)
    }
}
