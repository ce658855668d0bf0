import HearsayModel

/// A 16-byte message id, random per message; the receiver drops duplicates by it.
public struct MessageID: Hashable, Sendable, CustomStringConvertible {
    public let hi: UInt64
    public let lo: UInt64

    public init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    public static func random<G: RandomNumberGenerator>(using g: inout G) -> MessageID {
        MessageID(hi: g.next(), lo: g.next())
    }

    /// A time-ordered id, like a UUIDv7: the first 48 bits are `millis` (since 1970), the other
    /// 80 random. Ids made later sort later, so the store's indexes grow at their right edge
    /// instead of dirtying a random page per message (Docs/benchmarks.md, "Native chat").
    public static func timeOrdered<G: RandomNumberGenerator>(millis: Int64, using g: inout G) -> MessageID {
        MessageID(hi: UInt64(truncatingIfNeeded: millis) << 16 | (g.next() & 0xffff), lo: g.next())
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// 32 lowercase hex digits.
    public var description: String {
        let digits = Self.hexDigits
        return String(unsafeUninitializedCapacity: 32) { out in
            for i in 0..<16 {
                out[i] = digits[Int(hi >> UInt64(60 - 4 * i) & 0xf)]
                out[16 + i] = digits[Int(lo >> UInt64(60 - 4 * i) & 0xf)]
            }
            return 32
        }
    }

    public init?(_ text: String) {
        guard text.utf8.count == 32, let h = UInt64(text.prefix(16), radix: 16), let l = UInt64(text.suffix(16), radix: 16)
        else { return nil }
        self.init(hi: h, lo: l)
    }
}

/// A chat message as it travels: who wrote it, when (their clock, milliseconds since 1970), what.
public struct ChatMessage: Hashable, Sendable {
    public var id: MessageID
    public var sender: NodeID
    public var sentAtMillis: Int64
    public var text: String

    public init(id: MessageID, sender: NodeID, sentAtMillis: Int64, text: String) {
        self.id = id
        self.sender = sender
        self.sentAtMillis = sentAtMillis
        self.text = text
    }
}

/// Why a session or a connection was refused or closed.
public enum CloseReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case normal = 0
    case noCommonVersion = 1
    case declined = 2
    case wrongIdentity = 3
    case badFrame = 4
    case duplicateConnection = 5
    case shuttingDown = 6

    public var description: String {
        switch self {
        case .normal: "closed"
        case .noCommonVersion: "no common protocol version"
        case .declined: "session declined"
        case .wrongIdentity: "wrong identity"
        case .badFrame: "bad frame"
        case .duplicateConnection: "duplicate connection"
        case .shuttingDown: "shutting down"
        }
    }
}

/// Every message of the native chat protocol (Docs/protocols/native-wire.md). The type byte
/// values are append-only: ONLY APPEND TO `Kind`. Version 1: everything but `nack`; version 2
/// adds `nack`.
public enum NativeMessage: Hashable, Sendable {
    /// First frame each way: the versions this side speaks and who it is.
    case hello(minVersion: UInt8, maxVersion: UInt8, node: NodeID)
    /// The connection ends: why, and a human-readable detail.
    case close(CloseReason, detail: String)
    /// Asks to open a chat session; the answer is `accept` or `close(.declined)`.
    case sessionRequest(handle: String)
    case sessionAccept
    case message(ChatMessage)
    /// Stored by the receiver: the sender may drop it from its outbox.
    case ack(MessageID)
    case typing(Bool)
    case read(MessageID)
    case ping(UInt64)
    case pong(UInt64)
    /// A chat message for, or from, a user of another realm that one of the two nodes observes
    /// (a link-local XMPP buddy at its site; ADR 0010). For the receiver, it is a message *for*
    /// that user from the sender's user if the receiver observes the user, else a message *from*
    /// that user relayed by its observer. `message.sender` is the sending node, as for `message`;
    /// the receiver acks it like a message.
    case relay(realm: String, user: String, message: ChatMessage)
    /// Not stored (version 2): the receiver could not take the message (its disk is full, or a
    /// relayed message it refuses); the sender keeps it in its outbox and tries again, not before
    /// `retryAfterMillis`. `reason` says why, for the sender's log.
    case nack(MessageID, retryAfterMillis: UInt32, reason: String)

    public enum Kind: UInt8, Sendable, CaseIterable {
        case hello = 0x01, close = 0x02
        case sessionRequest = 0x10, sessionAccept = 0x11
        case message = 0x20, ack = 0x21, typing = 0x22, read = 0x23, relay = 0x24, nack = 0x25
        case ping = 0x30, pong = 0x31
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .close: .close
        case .sessionRequest: .sessionRequest
        case .sessionAccept: .sessionAccept
        case .message: .message
        case .ack: .ack
        case .typing: .typing
        case .read: .read
        case .ping: .ping
        case .pong: .pong
        case .relay: .relay
        case .nack: .nack
        }
    }
}
