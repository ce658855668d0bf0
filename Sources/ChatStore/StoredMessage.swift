#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HearsayModel
import NativeWire

/// One message as stored: the conversation it belongs to (the peer), which way it went, and
/// where it is in its life.
public struct StoredMessage: Hashable, Sendable {
    public enum Direction: String, Sendable { case outgoing = "out", incoming = "in" }
    public enum State: String, Sendable {
        /// Outgoing, in the outbox: not acknowledged yet.
        case queued
        /// Outgoing, acknowledged: the receiver has stored it.
        case delivered
        /// Incoming, stored (and acknowledged).
        case received
        /// Incoming or outgoing, read by the person it was for.
        case read
    }

    public var id: MessageID
    public var peer: NodeID
    public var direction: Direction
    public var sender: NodeID
    public var text: String
    public var sentAtMillis: Int64
    public var state: State
    /// Order of storing, across the whole store.
    public var sequence: Int64
    /// Incoming from a user of another realm, relayed by this node (its observer, ADR 0010): the
    /// last hop, from the user to that node, was not encrypted.
    public var via: NodeID?
}

/// A message waiting in the outbox.
public struct OutboxItem: Hashable, Sendable {
    public var message: StoredMessage
    public var attempts: Int
    public var nextAttemptMillis: Int64
}

/// One write of a group commit (`ChatStore.commit`).
public enum StoreOp: Sendable, Hashable {
    case queue(ChatMessage, to: NodeID)
    case receive(ChatMessage, from: NodeID)
    /// From a user of another realm, relayed by its observer `via` (ADR 0010).
    case receiveRelayed(ChatMessage, from: NodeID, via: NodeID)
    case acknowledged(MessageID)
    case attempted(MessageID, nextAttemptMillis: Int64)
    case markRead(MessageID)
    /// A peer seen in the table: its handle, realm, key and address, kept for when it is gone.
    case rememberPeer(KnownPeer)
}

/// A peer the node has seen in the table (so that a conversation with someone offline, or gone
/// from the table, still has a name and a key).
public struct KnownPeer: Hashable, Sendable {
    public var id: NodeID
    public var handle: String
    public var realm: String
    public var publicKey: [UInt8]
    public var address: String?
    public var lastSeenMillis: Int64

    public init(id: NodeID, handle: String, realm: String, publicKey: [UInt8], address: String?, lastSeenMillis: Int64) {
        self.id = id
        self.handle = handle
        self.realm = realm
        self.publicKey = publicKey
        self.address = address
        self.lastSeenMillis = lastSeenMillis
    }
}

/// One conversation in the list of conversations: with whom, how many unread, the last message.
public struct ConversationSummary: Hashable, Sendable {
    public var peer: NodeID
    public var messages: Int
    public var unread: Int
    public var queued: Int
    public var last: StoredMessage?
}

/// Whether an incoming message was new.
public enum Receipt: Sendable, Equatable { case stored, duplicate }

/// Why the store refused, with what to do.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The database could not grow: the disk is full (or its size limit was reached).
    public var isFull = false

    static func full(_ what: String) -> StoreError {
        StoreError(description: "\(what): the chat store is full (no room left on its disk): free some space; until "
                   + "then incoming messages stay in their senders' outboxes and sends are refused", isFull: true)
    }
}
