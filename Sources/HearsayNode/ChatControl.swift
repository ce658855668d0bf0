#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The chat part of the control API (issue 5). Requests (one JSON object per line):
//   {"op":"send","peer":"ann","text":"hi"}             -> {"ok":true,"messages":[MessageRow]}
//   {"op":"send","peer":"ann","texts":["a","b"]}       (several messages, in order, one commit)
//   {"op":"history","peer":"ann","limit":50}           -> {"ok":true,"messages":[...],"peer":PeerRow}
//   {"op":"conversations"}                             -> {"ok":true,"conversations":[ConversationRow]}
//   {"op":"people"}                                    -> {"ok":true,"people":[PeerRow]} (table + remembered)
//   {"op":"friends","action":"list|add|rm","peer":"ann"} -> {"ok":true,"people":[PeerRow]}
//   {"op":"requests"}                                  -> {"ok":true,"requests":[RequestRow]}
//   {"op":"answer","peer":"ann","accept":true}          (the user's answer under the `ask` policy)
//   {"op":"read","peer":"ann"}                         (marks read, sends read receipts)
//   {"op":"typing","peer":"ann","on":true}
//   {"op":"events"}  -> then one ChatEventLine per line until the client hangs up
// PEER is a handle or a prefix (4 characters or more) of a base32 node id; an unknown or
// ambiguous PEER is an error that lists the candidates.

/// One message, as `hearsay history --json` prints it.
public struct MessageRow: Codable, Sendable, Hashable {
    public var id: String
    /// Sender and receiver node ids (base32) and handles.
    public var from: String
    public var from_handle: String
    public var to: String
    public var to_handle: String
    /// The other side of the conversation, and which way this message went (`in`, `out`).
    public var peer: String
    public var direction: String
    public var text: String
    /// When the sender wrote it, ISO 8601 UTC, and as milliseconds since 1970.
    public var sent: String
    public var sent_ms: Int64
    /// `queued` (in the outbox), `delivered` (the receiver stored it), `received`, `read`.
    public var state: String
    public var realm: String
    /// Whether every hop encrypts and authenticates (the native protocol does; a relayed message
    /// never is: its last hop, to or from the link-local user, is plain XMPP).
    public var secure: Bool
    /// A message from a user of another realm that reached this node through the node observing
    /// that user (ADR 0010): that node's id and handle. Absent otherwise.
    public var via: String?
    public var via_handle: String?

    public init(id: String, from: String, from_handle: String, to: String, to_handle: String, peer: String,
                direction: String, text: String, sent_ms: Int64, state: String, realm: String, secure: Bool,
                via: String? = nil, via_handle: String? = nil) {
        self.via = via
        self.via_handle = via_handle
        self.id = id
        self.from = from
        self.from_handle = from_handle
        self.to = to
        self.to_handle = to_handle
        self.peer = peer
        self.direction = direction
        self.text = text
        self.sent_ms = sent_ms
        self.sent = Self.iso8601(millis: sent_ms)
        self.state = state
        self.realm = realm
        self.secure = secure
    }

    static func iso8601(millis: Int64) -> String {
        Date(timeIntervalSince1970: Double(millis) / 1000)
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}

/// Someone this node can chat with: in the table now, or remembered from before.
public struct PeerRow: Codable, Sendable, Hashable {
    public var id: String
    public var handle: String
    public var realm: String
    public var `protocol`: String
    public var address: String
    /// The table's view: alive, suspect, dead, left; `unknown` when only remembered.
    public var state: String
    public var status: String
    public var status_text: String
    public var online: Bool
    public var friend: Bool
    public var secure: Bool
    /// Conversation counters.
    public var unread: Int
    public var queued: Int
    public var messages: Int

    public init(id: String, handle: String, realm: String, protocol: String = "-", address: String = "-",
                state: String = "unknown", status: String = "offline", status_text: String = "", online: Bool = false,
                friend: Bool = false, secure: Bool, unread: Int = 0, queued: Int = 0, messages: Int = 0) {
        self.id = id
        self.handle = handle
        self.realm = realm
        self.protocol = `protocol`
        self.address = address
        self.state = state
        self.status = status
        self.status_text = status_text
        self.online = online
        self.friend = friend
        self.secure = secure
        self.unread = unread
        self.queued = queued
        self.messages = messages
    }
}

/// A session request waiting for the user's answer (`ask` policy).
public struct RequestRow: Codable, Sendable, Hashable {
    public var peer: String
    public var handle: String
    public var waiting_seconds: Double

    public init(peer: String, handle: String, waiting_seconds: Double) {
        self.peer = peer
        self.handle = handle
        self.waiting_seconds = waiting_seconds
    }
}

/// One line of the `events` stream.
public struct ChatEventLine: Codable, Sendable, Hashable {
    /// `row` (a table change), `message` (stored, either way), `state` (a message changed state),
    /// `typing`, `read`, `request` (a session request waits), `session` (opened, closed, refused).
    public var type: String
    public var row: TableRow?
    public var message: MessageRow?
    public var id: String?
    public var state: String?
    public var peer: String?
    public var handle: String?
    public var on: Bool?
    public var detail: String?

    public init(type: String, row: TableRow? = nil, message: MessageRow? = nil, id: String? = nil, state: String? = nil,
                peer: String? = nil, handle: String? = nil, on: Bool? = nil, detail: String? = nil) {
        self.type = type
        self.row = row
        self.message = message
        self.id = id
        self.state = state
        self.peer = peer
        self.handle = handle
        self.on = on
        self.detail = detail
    }
}
