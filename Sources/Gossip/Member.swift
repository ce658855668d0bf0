import HearsayModel

/// One row of a node's replicated table: the owner-signed entry and what SWIM says of it.
public struct Member: Sendable {
    /// The latest entry its owner signed that this node holds.
    public var entry: SignedEntry
    public var state: MemberState
    /// For `suspect` and `dead`: the incarnation the claim was made against.
    public var claimIncarnation: UInt64
    /// For `suspect` and `dead`: the node that made the claim (kept when it is relayed, so that a
    /// relay is not mistaken for an independent confirmation).
    public var claimant: NodeID
    /// For `suspect` and `dead`: the signed claim behind the state, forwarded as it is (nil only in
    /// tables built by tests).
    public var claim: Claim?
    /// When this node last changed the row (entry or state).
    public var updatedAt: Instant
    /// Hops the update that last changed the row had travelled (1 = straight from its origin).
    public var hops: UInt8
    /// Position in the member order used for random choice and probing; -1 if not in it.
    var slot: Int32

    public init(
        entry: SignedEntry, state: MemberState, claimIncarnation: UInt64, claimant: NodeID = .none,
        claim: Claim? = nil, updatedAt: Instant, hops: UInt8
    ) {
        self.claim = claim
        self.entry = entry
        self.state = state
        self.claimIncarnation = claimIncarnation
        self.claimant = claimant
        self.updatedAt = updatedAt
        self.hops = hops
        self.slot = -1
    }

    public var id: NodeID { entry.id }

    public var precedence: Precedence {
        switch state {
        case .alive, .left: .entry(entry.version)
        case .suspect: .suspect(claimIncarnation)
        case .dead: .dead(claimIncarnation)
        }
    }

    /// Whether this row is a node that takes part in SWIM (foreign-realm entries do not).
    public var isNode: Bool { !entry.entry.isForeign }
}
