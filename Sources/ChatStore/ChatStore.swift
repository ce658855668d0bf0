#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import GRDB
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
}

/// A message waiting in the outbox.
public struct OutboxItem: Hashable, Sendable {
    public var message: StoredMessage
    public var attempts: Int
    public var nextAttemptMillis: Int64
}

/// Whether an incoming message was new.
public enum Receipt: Sendable, Equatable { case stored, duplicate }

/// Why the store refused, with what to do.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The node's durable chat state: history, outbox, friends and known peers, in SQLite
/// (`<data>/chat.sqlite`, WAL) through GRDB. Each write is one transaction named after what it
/// means; migrations are frozen once shipped (append new ones, never edit old ones).
///
/// Delivery rules the store upholds:
/// - an outgoing message is in the outbox from the moment it is queued (before any send) until
///   its `ack` (`acknowledged`), across restarts of either side;
/// - an incoming message is stored before it is acknowledged, and a message id already stored is
///   a duplicate (acknowledge it again, show it once).
public final class ChatStore: Sendable {
    let db: DatabaseQueue

    /// Opens (creating, migrating) the store at `path`; `nil`: in memory, for tests.
    public init(path: String?) throws(StoreError) {
        do {
            var config = Configuration()
            config.foreignKeysEnabled = true
            config.label = "hearsay.chat"
            db = try path.map { try DatabaseQueue(path: $0, configuration: config) } ?? DatabaseQueue(configuration: config)
            if path != nil { try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") } }
            try Self.migrator.migrate(db)
        } catch {
            throw StoreError(description: "cannot open the chat store \(path ?? ":memory:"): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "message") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("id", .text).notNull().unique()
                t.column("peer", .text).notNull().indexed()
                t.column("direction", .text).notNull()
                t.column("sender", .text).notNull()
                t.column("text", .text).notNull()
                t.column("sent_at", .integer).notNull()
                t.column("state", .text).notNull()
            }
            try db.create(table: "outbox") { t in
                t.primaryKey("message_id", .text).references("message", column: "id", onDelete: .cascade)
                t.column("peer", .text).notNull().indexed()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("next_attempt_at", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: "friend") { t in
                t.primaryKey("id", .text)
                t.column("handle", .text).notNull()
                t.column("added_at", .integer).notNull()
            }
            try db.create(table: "peer") { t in
                t.primaryKey("id", .text)
                t.column("handle", .text).notNull()
                t.column("realm", .text).notNull()
                t.column("public_key", .blob)
                t.column("last_address", .text)
                t.column("last_seen", .integer).notNull()
            }
        }
        return m
    }

    // MARK: Outgoing

    /// Stores an outgoing message and puts it in the outbox, in one transaction.
    @discardableResult
    public func queue(_ message: ChatMessage, to peer: NodeID) throws(StoreError) -> StoredMessage {
        try write { db in
            try db.execute(sql: """
                INSERT INTO message (id, peer, direction, sender, text, sent_at, state) VALUES (?, ?, 'out', ?, ?, ?, 'queued')
                """, arguments: [message.id.description, peer.base32, message.sender.base32, message.text, message.sentAtMillis])
            try db.execute(sql: "INSERT INTO outbox (message_id, peer) VALUES (?, ?)", arguments: [message.id.description, peer.base32])
            return try Self.message(db, id: message.id)!
        }
    }

    /// The outbox for `peer` (or every peer), oldest first.
    public func outbox(for peer: NodeID? = nil) throws(StoreError) -> [OutboxItem] {
        try read { db in
            var sql = """
                SELECT message.*, outbox.attempts, outbox.next_attempt_at FROM outbox
                JOIN message ON message.id = outbox.message_id
                """
            var args: StatementArguments = []
            if let peer {
                sql += " WHERE outbox.peer = ?"
                args = [peer.base32]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY message.seq", arguments: args).map {
                OutboxItem(message: try Self.stored($0), attempts: $0["attempts"], nextAttemptMillis: $0["next_attempt_at"])
            }
        }
    }

    /// A send was tried; the next try is not before `nextMillis`.
    public func attempted(_ id: MessageID, nextAttemptMillis nextMillis: Int64) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE message_id = ?",
                           arguments: [nextMillis, id.description])
        }
    }

    /// The receiver stored it: out of the outbox, delivered. Returns false for an unknown id or a
    /// repeated ack (nothing changes).
    @discardableResult
    public func acknowledged(_ id: MessageID) throws(StoreError) -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE message_id = ?", arguments: [id.description])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "UPDATE message SET state = 'delivered' WHERE id = ? AND state = 'queued'",
                           arguments: [id.description])
            return true
        }
    }

    // MARK: Incoming

    /// Stores an incoming message from `peer` unless its id is already stored. Call before acking.
    public func receive(_ message: ChatMessage, from peer: NodeID) throws(StoreError) -> Receipt {
        try write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO message (id, peer, direction, sender, text, sent_at, state)
                VALUES (?, ?, 'in', ?, ?, ?, 'received')
                """, arguments: [message.id.description, peer.base32, message.sender.base32, message.text, message.sentAtMillis])
            return db.changesCount > 0 ? .stored : .duplicate
        }
    }

    /// Marks a message read.
    public func markRead(_ id: MessageID) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE message SET state = 'read' WHERE id = ?", arguments: [id.description])
        }
    }

    // MARK: History

    /// The conversation with `peer`, in the order messages were stored.
    public func history(with peer: NodeID) throws(StoreError) -> [StoredMessage] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM message WHERE peer = ? ORDER BY seq", arguments: [peer.base32]).map(Self.stored)
        }
    }

    public func message(_ id: MessageID) throws(StoreError) -> StoredMessage? {
        try read { db in try Self.message(db, id: id) }
    }

    // MARK: Friends and peers

    public func addFriend(_ id: NodeID, handle: String, atMillis: Int64) throws(StoreError) {
        try write { db in
            try db.execute(sql: "INSERT INTO friend (id, handle, added_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET handle = excluded.handle",
                           arguments: [id.base32, handle, atMillis])
        }
    }

    @discardableResult
    public func removeFriend(_ id: NodeID) throws(StoreError) -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM friend WHERE id = ?", arguments: [id.base32])
            return db.changesCount > 0
        }
    }

    public func friends() throws(StoreError) -> [(id: NodeID, handle: String)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, handle FROM friend ORDER BY handle, id").compactMap { row in
                NodeID(row["id"] as String).map { ($0, row["handle"]) }
            }
        }
    }

    public func isFriend(_ id: NodeID) throws(StoreError) -> Bool {
        try read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM friend WHERE id = ?", arguments: [id.base32]) ?? false }
    }

    /// Remembers a peer seen in the table (its key, to check it on the next session).
    public func rememberPeer(_ id: NodeID, handle: String, realm: String, publicKey: [UInt8], address: String?,
                             atMillis: Int64) throws(StoreError) {
        try write { db in
            try db.execute(sql: """
                INSERT INTO peer (id, handle, realm, public_key, last_address, last_seen) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET handle = excluded.handle, realm = excluded.realm,
                  public_key = excluded.public_key, last_address = excluded.last_address, last_seen = excluded.last_seen
                """, arguments: [id.base32, handle, realm, Data(publicKey), address, atMillis])
        }
    }

    public func peerKey(_ id: NodeID) throws(StoreError) -> [UInt8]? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT public_key FROM peer WHERE id = ?", arguments: [id.base32]).map { Array($0) }
        }
    }

    // MARK: Plumbing

    static func message(_ db: Database, id: MessageID) throws -> StoredMessage? {
        try Row.fetchOne(db, sql: "SELECT * FROM message WHERE id = ?", arguments: [id.description]).map(stored)
    }

    static func stored(_ row: Row) throws -> StoredMessage {
        guard let id = MessageID(row["id"] as String), let peer = NodeID(row["peer"] as String),
            let sender = NodeID(row["sender"] as String),
            let direction = StoredMessage.Direction(rawValue: row["direction"]),
            let state = StoredMessage.State(rawValue: row["state"])
        else { throw StoreError(description: "a stored message row is corrupt: \(row)") }
        return StoredMessage(id: id, peer: peer, direction: direction, sender: sender, text: row["text"],
                             sentAtMillis: row["sent_at"], state: state, sequence: row["seq"])
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try db.write(body) } catch let e as StoreError { throw e } catch {
            throw StoreError(description: "chat store write failed: \(error)")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try db.read(body) } catch let e as StoreError { throw e } catch {
            throw StoreError(description: "chat store read failed: \(error)")
        }
    }
}
