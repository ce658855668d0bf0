import HearsayModel
import NativeWire
import Conversation

/// What the native endpoint needs from the node: its user's policy, friends and known peers,
/// and where delivered messages and acks go (the store).
public protocol NativeSessionDelegate: AnyObject, Sendable {
    func policy() -> SessionPolicy
    func isFriend(_ id: NodeID) -> Bool
    /// Whether `id` is a node of the table with this key (the listening side's TLS check).
    func knows(_ id: NodeID, publicKey: [UInt8]) -> Bool
    /// Store `messages` from `peer` (in their order; the ones arrived in one read, so that they
    /// share a commit), then call `done(true)` from any thread: they are then acked. A message
    /// already stored counts as stored (it is acked again, shown once). `done(false)`: not
    /// stored; each is nacked (ADR 0011), and whatever else the peer sends on that connection
    /// too, unread, until it sends one of the refused ones again: it keeps them in order in its
    /// outbox and tries again from the first, so nothing is stored ahead of them.
    func deliver(_ messages: [ChatMessage], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void)
    /// The same for relayed messages (`.relay` items), when this node relays (ADR 0010).
    func deliverRelayed(_ messages: [Outgoing], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void)
    func acknowledged(_ id: MessageID, by peer: NodeID)
    /// `peer` did not store one of this node's messages (`nack`): it stays in the outbox and may
    /// go again after `retryAfterMillis`.
    func refused(_ id: MessageID, by peer: NodeID, retryAfterMillis: UInt32, reason: String)
    /// `ask` policy: `peer` wants a session; answer with `NativeEndpoint.answer`.
    func sessionRequested(by peer: NodeID, handle: String)
    func event(_ event: NativeEvent)
}

/// What the endpoint carries for the node: its user's chat messages, and relayed messages for
/// or from a user of another realm (ADR 0010).
public enum Outgoing: Hashable, Sendable {
    case chat(ChatMessage)
    case relay(realm: String, user: String, message: ChatMessage)

    public var message: ChatMessage {
        switch self {
        case .chat(let m), .relay(_, _, let m): m
        }
    }
}

extension NativeSessionDelegate {
    /// By default a nack is only reported; the message stays unacked until the connection ends.
    public func refused(_ id: MessageID, by peer: NodeID, retryAfterMillis: UInt32, reason: String) {
        event(.ignored(peer, "a nack for \(id): \(reason)"))
    }

    /// Relayed messages (ADR 0010) from `peer`: by default not taken (not acked; they stay in
    /// their sender's outbox). A node that relays overrides it.
    public func deliverRelayed(_ messages: [Outgoing], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void) {
        event(.ignored(peer, "\(messages.count) relayed message(s): this node does not relay"))
        done(false)
    }
}

/// What happened on the native endpoint, for logs and counters.
public enum NativeEvent: Hashable, Sendable {
    case opened(NodeID)
    case closed(NodeID?, CloseReason, String)
    /// A TLS handshake refused: an impostor or an unknown dialer.
    case refused(String)
    /// The peer is typing (true) or stopped (false).
    case typing(NodeID, Bool)
    /// The peer read one of this node's messages.
    case read(NodeID, MessageID)
    /// The peer (its user, or its `friends` policy) declined this node's session request.
    case declinedBy(NodeID)
    /// A frame this node does not act on (yet), left unacknowledged.
    case ignored(NodeID, String)
}
