import HearsayModel

/// One piece of news about a member, as disseminated by gossip.
public struct Update: Sendable {
    public enum Kind: Sendable {
        /// A signed entry: join, status change, refutation (higher incarnation), graceful leave.
        case entry(SignedEntry)
        /// A signed claim: its claimant suspects, or declares dead, its subject at an incarnation.
        case claim(Claim)
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
        case .claim(let c): c.subject
        }
    }

    public var precedence: Precedence {
        switch kind {
        case .entry(let e): .entry(e.version)
        case .claim(let c): c.precedence
        }
    }

    public var entry: SignedEntry? {
        if case .entry(let e) = kind { return e }
        return nil
    }

    public var claim: Claim? {
        if case .claim(let c) = kind { return c }
        return nil
    }

    /// Encoded size in bytes (see GossipCodec).
    public var encodedSize: Int {
        switch kind {
        case .entry(let e): 2 + e.encodedSize
        case .claim(let c): 2 + c.encodedSize
        }
    }
}

extension Claim {
    public var precedence: Precedence {
        switch kind {
        case .suspect: .suspect(incarnation)
        case .dead: .dead(incarnation)
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

/// A whole row, as exchanged by anti-entropy: the entry, the state, and for `suspect` and `dead`
/// the signed claim that put the row there (a `dead` claim may stand behind a `suspect` row: the
/// holder was still checking it).
public struct SyncRecord: Sendable {
    public var entry: SignedEntry
    public var state: MemberState
    /// The claim behind a `suspect` or `dead` state; nil otherwise.
    public var claim: Claim?

    public init(entry: SignedEntry, state: MemberState, claim: Claim? = nil) {
        self.entry = entry
        // A suspect or dead state without its signed claim cannot be believed: it travels as alive.
        if state == .suspect || state == .dead, claim == nil {
            self.state = .alive
        } else {
            self.state = state
        }
        self.claim = self.state == .suspect || self.state == .dead ? claim : nil
    }

    var hasClaim: Bool { claim != nil }

    public var claimIncarnation: UInt64 { claim?.incarnation ?? 0 }

    public var encodedSize: Int {
        entry.encodedSize + 1 + ByteWriter.varintSize(claimIncarnation) + (claim.map { 1 + 16 + $0.signature.count } ?? 0)
    }
}
