#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import GRDB
import HearsayModel
import NativeWire

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
    /// A second connection that copies the write-ahead log into the database (`checkpoint()`).
    let checkpointer: DatabaseQueue?

    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous = NORMAL` in WAL mode: a commit survives the process being killed (the
        /// default: what `kill -9` tests prove); the last commits may be lost if the machine loses power.
        case process
        /// `synchronous = FULL`: each commit is fsynced, and survives a power cut too.
        case power
    }

    /// Opens (creating, migrating) the store at `path`; `nil`: in memory, for tests.
    public init(path: String?, durability: Durability = .process) throws(StoreError) {
        do {
            var config = Configuration()
            config.foreignKeysEnabled = true
            config.label = "hearsay.chat"
            db = try path.map { try DatabaseQueue(path: $0, configuration: config) } ?? DatabaseQueue(configuration: config)
            if let path {
                try db.writeWithoutTransaction {
                    try $0.execute(sql: "PRAGMA journal_mode = WAL")
                    try $0.execute(sql: durability == .power ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                    // 4 MiB of page cache (the default 2 MiB made a busy store re-read index pages),
                    // and no checkpoint inside commits: `checkpoint()` runs them from another
                    // connection on another thread, so their fsyncs stay off the commit path.
                    try $0.execute(sql: "PRAGMA cache_size = -4096")
                    try $0.execute(sql: "PRAGMA wal_autocheckpoint = 0")
                }
                var c = Configuration()
                c.label = "hearsay.chat.checkpoint"
                checkpointer = try DatabaseQueue(path: path, configuration: c)
            } else {
                checkpointer = nil
            }
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
        // Frozen once shipped: append, never edit.
        m.registerMigration("v2-relayed") { db in
            try db.alter(table: "message") { t in t.add(column: "via", .text) }
        }
        return m
    }

    /// Caps the database at `pages` pages (`PRAGMA max_page_count`; nil: SQLite's default):
    /// beyond it every write fails as on a full disk. For tests of what a full disk does.
    public func limitSize(pages: Int?) throws(StoreError) {
        do {
            try db.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA max_page_count = \(pages ?? 1_073_741_823)")
            }
        } catch {
            throw StoreError(description: "cannot limit the chat store's size: \(error)")
        }
    }

    /// Pages the database uses now.
    public func pageCount() throws(StoreError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
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

    // MARK: Checkpoints

    /// Copies what the write-ahead log holds into the database file, as far as readers allow
    /// (`PASSIVE`: never waits for them, never blocks the writer); `truncate` also empties the log
    /// (at close). The node's writer calls it from its own thread every 200 ms while writing.
    public func checkpoint(truncate: Bool = false) throws(StoreError) {
        guard let checkpointer else { return }
        do {
            _ = try checkpointer.writeWithoutTransaction { try $0.checkpoint(truncate ? .truncate : .passive) }
        } catch {
            throw StoreError(description: "chat store checkpoint failed: \(error)")
        }
    }

    // MARK: History

    /// The conversation with `peer`, in the order messages were stored; with `limit`, the last
    /// `limit` of them (still oldest first).
    public func history(with peer: NodeID, limit: Int? = nil) throws(StoreError) -> [StoredMessage] {
        try read { db in
            guard let limit else {
                return try Row.fetchAll(db, sql: "SELECT * FROM message WHERE peer = ? ORDER BY seq", arguments: [peer.base32])
                    .map(Self.stored)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM message WHERE peer = ? ORDER BY seq DESC LIMIT ?",
                                    arguments: [peer.base32, limit]).map(Self.stored).reversed()
        }
    }

    /// Every conversation (or only the one with `peer`): message, unread and queued counts and
    /// the last message, most recent first. One query.
    public func conversations(with peer: NodeID? = nil) throws(StoreError) -> [ConversationSummary] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT m.*, c.n, c.unread, c.queued FROM (
                  SELECT peer, COUNT(*) AS n,
                    SUM(CASE WHEN direction = 'in' AND state = 'received' THEN 1 ELSE 0 END) AS unread,
                    SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) AS queued,
                    MAX(seq) AS last FROM message \(peer == nil ? "" : "WHERE peer = ?") GROUP BY peer
                ) AS c JOIN message AS m ON m.seq = c.last ORDER BY c.last DESC
                """, arguments: peer.map { [$0.base32] } ?? [])
            return try rows.map { row in
                let last = try Self.stored(row)
                return ConversationSummary(peer: last.peer, messages: row["n"], unread: row["unread"], queued: row["queued"],
                                           last: last)
            }
        }
    }

    /// The incoming messages from `peer` not read yet, oldest first.
    public func unread(from peer: NodeID) throws(StoreError) -> [StoredMessage] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM message WHERE peer = ? AND direction = 'in' AND state = 'received' ORDER BY seq",
                             arguments: [peer.base32]).map(Self.stored)
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
            try Self.remember(db, KnownPeer(id: id, handle: handle, realm: realm, publicKey: publicKey, address: address,
                                            lastSeenMillis: atMillis))
        }
    }

    static func remember(_ db: Database, _ p: KnownPeer) throws {
        try db.cachedStatement(sql: """
            INSERT INTO peer (id, handle, realm, public_key, last_address, last_seen) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET handle = excluded.handle, realm = excluded.realm,
              public_key = excluded.public_key, last_address = excluded.last_address, last_seen = excluded.last_seen
            """).execute(arguments: [p.id.base32, p.handle, p.realm, Data(p.publicKey), p.address, p.lastSeenMillis])
    }

    /// Every peer remembered, by handle.
    public func knownPeers() throws(StoreError) -> [KnownPeer] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM peer ORDER BY handle, id").compactMap { row in
                guard let id = NodeID(row["id"] as String) else { return nil }
                let key: Data? = row["public_key"]
                return KnownPeer(id: id, handle: row["handle"], realm: row["realm"], publicKey: key.map { Array($0) } ?? [],
                                 address: row["last_address"], lastSeenMillis: row["last_seen"])
            }
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
        let via = (row["via"] as String?).flatMap { NodeID($0) }
        return StoredMessage(id: id, peer: peer, direction: direction, sender: sender, text: row["text"],
                             sentAtMillis: row["sent_at"], state: state, sequence: row["seq"], via: via)
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try db.write(body) } catch let e as StoreError { throw e } catch let e as DatabaseError
            where e.resultCode == .SQLITE_FULL {
            throw .full("chat store write failed")
        } catch {
            throw StoreError(description: "chat store write failed: \(error); see the node's log, and check the disk")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try db.read(body) } catch let e as StoreError { throw e } catch {
            throw StoreError(description: "chat store read failed: \(error)")
        }
    }
}
