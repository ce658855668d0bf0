import HearsayModel

/// What the state machine asks its shell to do. The shell (the simulator, or the SwiftNIO node)
/// carries these out and feeds back what happens as `GossipInput`.
public enum Directive: Sendable {
    /// Send a datagram to member `peer` at `to`; the shell tags it with the key it shares with `peer`.
    case send(GossipMessage, to: PeerAddress, peer: NodeID)
    /// Send a message over a reliable stream. `conversation` is 0 to open a new one, or the id the
    /// shell gave the incoming stream message this answers.
    case stream(GossipMessage, to: PeerAddress, conversation: UInt64)
    /// Call `handle(.timer(timer))` at `at` (or soon after). Timers are never cancelled: the
    /// instance ignores ones that no longer apply.
    case schedule(TimerID, at: Instant)
    /// The table changed.
    case event(MembershipEvent)
}

/// What the shell feeds into the state machine.
public enum GossipInput: Sendable {
    /// A datagram from `from` whose tag the shell checked under the key it shares with member
    /// `sender` (datagrams from anyone else never get here).
    case datagram(GossipMessage, from: PeerAddress, sender: NodeID)
    case stream(GossipMessage, from: PeerAddress, conversation: UInt64)
    case timer(TimerID)
}

/// The instance's timers.
public enum TimerID: Hashable, Sendable {
    /// Start the next probe (and conclude the previous one).
    case probe
    /// No direct ack for probe `seq` yet: go indirect.
    case probeTimeout(seq: UInt32)
    /// As a ping-req relay: no ack from the target for relay probe `seq`: send a nack.
    case relayTimeout(seq: UInt32)
    case gossip
    case lazyPush
    case graft(NodeID)
    case suspicion(NodeID)
    case pushPull
    case reconnect
    case reap
    case joinRetry
    /// One extra push-pull after joining.
    case catchUp
    /// No ack yet to a verification ping of a suspect member.
    case verifyTimeout(NodeID)
}

/// A change in the table, as it happens.
public struct MembershipEvent: Sendable {
    public var id: NodeID
    public var entry: SignedEntry
    /// `nil` if the member was unknown before.
    public var previous: MemberState?
    /// `nil` if the member was forgotten (tombstone expired).
    public var state: MemberState?
    public var precedence: Precedence
    /// Hops the update travelled to get here (0 for this node's own changes).
    public var hops: UInt8
    public var at: Instant
}
