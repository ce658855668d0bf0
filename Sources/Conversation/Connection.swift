import HearsayModel
import NativeWire

/// Who may open a chat session with this node (issue 5).
public enum SessionPolicy: String, Sendable, CaseIterable {
    /// Anyone the table knows: the zero-setup LAN default.
    case everyone
    /// Friends only; others are declined.
    case friends
    /// Each request waits for the user's answer.
    case ask
}

/// What the connection asks of its shell.
public enum ConnectionAction: Hashable, Sendable {
    /// Write this message to the peer.
    case send(NativeMessage)
    /// Close the connection after sending `close(reason, detail)`; log `detail`.
    case close(CloseReason, detail: String)
    /// The peer asks for a session and the policy says ask the user (`accept()` / `decline()`).
    case askUser(handle: String)
    /// The session is open both ways: messages may flow.
    case sessionOpen
    /// Store this message, then `stored(_:)` it (which sends the ack); a duplicate is acked too.
    case deliver(ChatMessage)
    /// The peer stored one of ours: take it out of the outbox.
    case acknowledged(MessageID)
    case typing(Bool)
    case read(MessageID)
    /// A relayed message (ADR 0010): store or forward it, then `stored(_:)` it (which acks it).
    case relay(realm: String, user: String, message: ChatMessage)
    /// The peer did not store one of ours (`nack`, version 2): it stays in the outbox and goes
    /// again, not before `retryAfterMillis` (ADR 0011).
    case refused(MessageID, retryAfterMillis: UInt32, reason: String)
}

/// One native connection after TLS has proven who the peer is, as a sans-IO state machine:
/// hello and version negotiation, the session request and the policy's answer, messages and
/// acks, keep-alive. Time comes in as arguments.
public struct Connection: Sendable {
    public enum Role: Sendable { case dialer, listener }
    public enum State: Equatable, Sendable {
        case awaitingHello
        /// Hello exchanged; the dialer waits for the answer to its request, the listener for the
        /// request (or for the user).
        case negotiated(version: UInt8)
        case open(version: UInt8)
        case closed(CloseReason)
    }

    /// 1: the first protocol; 2: adds `nack` (ADR 0011).
    public static let versions: ClosedRange<UInt8> = 1...2

    public let me: NodeID
    /// The node TLS authenticated.
    public let peer: NodeID
    public let role: Role
    public private(set) var state: State = .awaitingHello
    let myVersions: ClosedRange<UInt8>
    var requestedBy: String?
    var waitingForUser = false
    var lastHeard: Int64
    var pingSent: (nonce: UInt64, at: Int64)?
    var nonce: UInt64 = 0

    /// Send a ping after this much silence; close if its pong does not come within the same.
    public var keepAliveMillis: Int64 = 15_000

    public init(me: NodeID, peer: NodeID, role: Role, nowMillis: Int64, versions: ClosedRange<UInt8> = Connection.versions) {
        self.me = me
        self.peer = peer
        self.role = role
        self.myVersions = versions
        lastHeard = nowMillis
    }

    public var isOpen: Bool { if case .open = state { true } else { false } }

    /// The first frame: this side's hello.
    public mutating func start() -> [ConnectionAction] {
        [.send(.hello(minVersion: myVersions.lowerBound, maxVersion: myVersions.upperBound, node: me))]
    }

    /// The dialer asks for a session (after the hellos, or queued until then by the shell).
    public mutating func requestSession(handle: String) -> [ConnectionAction] {
        guard role == .dialer, case .negotiated = state else { return [] }
        return [.send(.sessionRequest(handle: handle))]
    }

    /// The user's answer to `askUser`.
    public mutating func accept() -> [ConnectionAction] {
        guard waitingForUser, case .negotiated(let v) = state else { return [] }
        waitingForUser = false
        state = .open(version: v)
        return [.send(.sessionAccept), .sessionOpen]
    }

    public mutating func decline() -> [ConnectionAction] {
        guard waitingForUser else { return [] }
        waitingForUser = false
        return close(.declined, "the user declined the session")
    }

    /// Sends a chat message (only on an open session).
    public mutating func send(_ m: ChatMessage) -> [ConnectionAction] {
        guard isOpen else { return [] }
        return [.send(.message(m))]
    }

    /// The shell stored a delivered message: acknowledge it.
    public mutating func stored(_ id: MessageID) -> [ConnectionAction] {
        guard isOpen else { return [] }
        return [.send(.ack(id))]
    }

    /// The shell could not store (or refuses) a delivered message: tell the sender to keep it and
    /// try again after `retryAfterMillis`. Version 2 says so with a `nack`; a version 1 peer knows
    /// no nack, so the connection is closed instead (its unacked messages then go again on its
    /// next connection, after its backoff).
    public mutating func refuse(_ id: MessageID, retryAfterMillis: UInt32, reason: String) -> [ConnectionAction] {
        guard case .open(let v) = state else { return [] }
        guard v >= 2 else { return close(.normal, "a message was not stored: \(reason)") }
        return [.send(.nack(id, retryAfterMillis: retryAfterMillis, reason: reason))]
    }

    /// Sends a message for, or from, a user of another realm (only on an open session).
    public mutating func sendRelay(realm: String, user: String, _ m: ChatMessage) -> [ConnectionAction] {
        guard isOpen else { return [] }
        return [.send(.relay(realm: realm, user: user, message: m))]
    }

    public mutating func sendTyping(_ on: Bool) -> [ConnectionAction] { isOpen ? [.send(.typing(on))] : [] }
    public mutating func sendRead(_ id: MessageID) -> [ConnectionAction] { isOpen ? [.send(.read(id))] : [] }

    /// A frame arrived. `policy` and `isFriend` decide a session request on the listening side.
    public mutating func received(_ m: NativeMessage, nowMillis: Int64, policy: SessionPolicy,
                                  isFriend: Bool) -> [ConnectionAction] {
        if case .closed = state { return [] }
        lastHeard = nowMillis
        switch (state, m) {
        case (_, .close(let reason, let detail)):
            state = .closed(reason)
            return [.close(reason, detail: "the peer closed: \(reason)\(detail.isEmpty ? "" : " (\(detail))")")]
        case (.awaitingHello, .hello(let lo, let hi, let node)):
            guard node == peer else {
                return close(.wrongIdentity, "hello names node \(node.short), TLS proved node \(peer.short)")
            }
            guard let v = NativeCodec.negotiate(mine: myVersions, theirs: lo...hi) else {
                return close(.noCommonVersion, "the peer speaks versions \(lo)...\(hi), this node \(myVersions)")
            }
            state = .negotiated(version: v)
            return []
        case (.awaitingHello, _):
            return close(.badFrame, "\(m.kind) before hello")
        case (.negotiated(let v), .sessionRequest(let handle)) where role == .listener && !waitingForUser:
            switch policy {
            case .everyone:
                state = .open(version: v)
                return [.send(.sessionAccept), .sessionOpen]
            case .friends where isFriend:
                state = .open(version: v)
                return [.send(.sessionAccept), .sessionOpen]
            case .friends:
                return close(.declined, "only friends may open a session with this user")
            case .ask:
                waitingForUser = true
                requestedBy = handle
                return [.askUser(handle: handle)]
            }
        case (.negotiated(let v), .sessionAccept) where role == .dialer:
            state = .open(version: v)
            return [.sessionOpen]
        case (.open, .message(let c)):
            guard c.sender == peer else {
                return close(.wrongIdentity, "a message signed as node \(c.sender.short) on node \(peer.short)'s connection")
            }
            return [.deliver(c)]
        case (.open, .relay(let realm, let user, let c)):
            guard c.sender == peer else {
                return close(.wrongIdentity, "a relayed message signed as node \(c.sender.short) on node \(peer.short)'s connection")
            }
            return [.relay(realm: realm, user: user, message: c)]
        case (.open, .ack(let id)): return [.acknowledged(id)]
        case (.open(let v), .nack(let id, let after, let reason)) where v >= 2:
            return [.refused(id, retryAfterMillis: after, reason: reason)]
        case (.open, .typing(let on)): return [.typing(on)]
        case (.open, .read(let id)): return [.read(id)]
        case (_, .ping(let n)): return [.send(.pong(n))]
        case (_, .pong(let n)):
            if pingSent?.nonce == n { pingSent = nil }
            return []
        default:
            return close(.badFrame, "unexpected \(m.kind) in state \(state)")
        }
    }

    /// Keep-alive: a ping after `keepAliveMillis` of silence, a close if it goes unanswered.
    public mutating func tick(nowMillis: Int64) -> [ConnectionAction] {
        if case .closed = state { return [] }
        if let p = pingSent {
            guard nowMillis - p.at < keepAliveMillis else {
                return close(.normal, "no answer to a keep-alive for \(keepAliveMillis) ms")
            }
            return []
        }
        guard nowMillis - lastHeard >= keepAliveMillis else { return [] }
        nonce &+= 1
        pingSent = (nonce, nowMillis)
        return [.send(.ping(nonce))]
    }

    /// Ends the connection from this side.
    public mutating func close(_ reason: CloseReason, _ detail: String) -> [ConnectionAction] {
        if case .closed = state { return [] }
        state = .closed(reason)
        return [.send(.close(reason, detail: detail)), .close(reason, detail: detail)]
    }

    /// Two connections between the same pair (both dialed at once): both sides keep the one
    /// dialed by the node with the lower id, so they agree without talking.
    public static func keepsDialedConnection(me: NodeID, peer: NodeID, dialedByMe: Bool) -> Bool {
        dialedByMe == (me < peer)
    }
}
