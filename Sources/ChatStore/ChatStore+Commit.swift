#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import GRDB
import HearsayModel
import NativeWire

extension ChatStore {
    // MARK: Group commit

    /// Applies `ops` in order in one transaction (one WAL commit for the lot): the node's writer
    /// gathers what arrives while the previous commit runs. Returns one flag per op: `queue` and
    /// `receive` true when stored (false: the id was already there), `acknowledged` true when it
    /// took the message out of the outbox, `attempted` and `markRead` true when the row exists.
    public func commit(_ ops: [StoreOp]) throws(StoreError) -> [Bool] {
        try write { db in
            var out = [Bool]()
            out.reserveCapacity(ops.count)
            for op in ops {
                switch op {
                case .queue(let m, let peer):
                    try db.cachedStatement(sql: """
                        INSERT OR IGNORE INTO message (id, peer, direction, sender, text, sent_at, state)
                        VALUES (?, ?, 'out', ?, ?, ?, 'queued')
                        """).execute(arguments: [m.id.description, peer.base32, m.sender.base32, m.text, m.sentAtMillis])
                    guard db.changesCount > 0 else { out.append(false); continue }
                    try db.cachedStatement(sql: "INSERT INTO outbox (message_id, peer) VALUES (?, ?)")
                        .execute(arguments: [m.id.description, peer.base32])
                    out.append(true)
                case .receive(let m, let peer):
                    try db.cachedStatement(sql: """
                        INSERT OR IGNORE INTO message (id, peer, direction, sender, text, sent_at, state)
                        VALUES (?, ?, 'in', ?, ?, ?, 'received')
                        """).execute(arguments: [m.id.description, peer.base32, m.sender.base32, m.text, m.sentAtMillis])
                    out.append(db.changesCount > 0)
                case .receiveRelayed(let m, let peer, let via):
                    try db.cachedStatement(sql: """
                        INSERT OR IGNORE INTO message (id, peer, direction, sender, text, sent_at, state, via)
                        VALUES (?, ?, 'in', ?, ?, ?, 'received', ?)
                        """).execute(arguments: [m.id.description, peer.base32, m.sender.base32, m.text, m.sentAtMillis,
                                                 via.base32])
                    out.append(db.changesCount > 0)
                case .acknowledged(let id):
                    try db.cachedStatement(sql: "DELETE FROM outbox WHERE message_id = ?").execute(arguments: [id.description])
                    guard db.changesCount > 0 else { out.append(false); continue }
                    try db.cachedStatement(sql: "UPDATE message SET state = 'delivered' WHERE id = ? AND state = 'queued'")
                        .execute(arguments: [id.description])
                    out.append(true)
                case .attempted(let id, let next):
                    try db.cachedStatement(sql: "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE message_id = ?")
                        .execute(arguments: [next, id.description])
                    out.append(db.changesCount > 0)
                case .rememberPeer(let p):
                    try Self.remember(db, p)
                    out.append(true)
                case .markRead(let id):
                    try db.cachedStatement(sql: "UPDATE message SET state = 'read' WHERE id = ? AND state IN ('received', 'delivered')")
                        .execute(arguments: [id.description])
                    out.append(db.changesCount > 0)
                }
            }
            return out
        }
    }
}
