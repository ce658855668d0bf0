#if Chat  // the package trait (Package.swift): off in `make release-overlay`
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ChatStore
import Conversation
import HearsayModel
import Logging
import NativeWire
import RealmNative
import Realms

/// What the control API asks of chat: people, history, friends, requests, read receipts.
extension ChatService {
    // MARK: Queries and user actions (from the control API)

    func name(_ id: NodeID) -> String {
        if id == identity.id { return handle }
        return peers[id]?.entry.handle ?? remembered[id]?.handle ?? id.short
    }

    func realm(_ id: NodeID) -> (String, Bool) {
        let realm = peers[id]?.entry.realm ?? remembered[id]?.realm ?? "hearsay"
        return (realm, realm == RealmProtocol.native.realm)
    }

    func row(_ m: ChatMessage, peer: NodeID, direction: StoredMessage.Direction, state: StoredMessage.State,
             via: NodeID? = nil) -> MessageRow {
        let (from, to) = direction == .outgoing ? (identity.id, peer) : (peer, identity.id)
        let (realm, secure) = self.realm(peer)
        return MessageRow(id: m.id.description, from: from.base32, from_handle: name(from), to: to.base32, to_handle: name(to),
                          peer: peer.base32, direction: direction.rawValue, text: m.text, sent_ms: m.sentAtMillis,
                          state: state.rawValue, realm: realm, secure: secure && via == nil, via: via?.base32,
                          via_handle: via.map(name))
    }

    func row(_ m: StoredMessage) -> MessageRow {
        row(ChatMessage(id: m.id, sender: m.sender, sentAtMillis: m.sentAtMillis, text: m.text), peer: m.peer,
            direction: m.direction, state: m.state, via: m.via)
    }

    func personRow(_ id: NodeID, summary: ConversationSummary?) -> PeerRow {
        let p = peers[id]
        let k = remembered[id]
        let (realm, secure) = self.realm(id)
        let e = p?.entry
        return PeerRow(
            id: id.base32, handle: name(id), realm: realm,
            protocol: e.map { "\($0.protocolName)/\($0.protocolVersion)" } ?? "-",
            address: e.flatMap { e in e.addresses.first.map { "\($0):\(e.chatPort)" } } ?? k?.address ?? "-",
            state: p?.state.description ?? "unknown", status: e?.status.description ?? "offline",
            status_text: e?.statusText ?? "", online: isOnline(id), friend: friendIDs.contains(id), secure: secure,
            unread: summary?.unread ?? 0, queued: summary?.queued ?? 0, messages: summary?.messages ?? 0)
    }

    /// Live in the table; for a user of another realm, also its observing node (whose crash
    /// leaves the entry behind until a retraction or a takeover).
    func isOnline(_ id: NodeID) -> Bool {
        guard let p = peers[id], p.state.isLive else { return false }
        guard p.entry.isForeign else { return true }
        return p.entry.owner == identity.id || peers[p.entry.owner]?.state.isLive == true
    }

    /// Everyone in the table or remembered, with conversation counters: online first, then by handle.
    public func people() async throws -> [PeerRow] {
        let summaries = Dictionary((try store.conversations()).map { ($0.peer, $0) }, uniquingKeysWith: { a, _ in a })
        return try await loop.submit {
            var ids = Set(self.peers.keys).union(self.remembered.keys).union(summaries.keys)
            ids.remove(self.identity.id)
            return ids.map { self.personRow($0, summary: summaries[$0]) }
                .sorted { ($0.online ? 0 : 1, $0.handle.lowercased(), $0.id) < ($1.online ? 0 : 1, $1.handle.lowercased(), $1.id) }
        }.get()
    }

    public func history(with query: String, limit: Int?) async throws -> (PeerRow, [MessageRow]) {
        let peer = try await loop.submit { try self.resolve(query) }.get()
        let messages = try store.history(with: peer, limit: limit)
        let summary = try store.conversations(with: peer).first
        return try await loop.submit { (self.personRow(peer, summary: summary), messages.map(self.row)) }.get()
    }

    public func friends(_ action: String, _ query: String?) async throws -> [PeerRow] {
        switch action {
        case "list": break
        case "add", "rm":
            guard let query else { throw ChatError("friends \(action) needs a peer") }
            let (peer, handle) = try await loop.submit { () throws -> (NodeID, String) in
                let p = try self.resolve(query)
                return (p, self.name(p))
            }.get()
            if action == "add" {
                try store.addFriend(peer, handle: handle, atMillis: Self.nowMillis())
            } else {
                guard try store.removeFriend(peer) else { throw ChatError("\(handle) is not a friend") }
            }
            try await loop.submit {
                if action == "add" { self.friendIDs.insert(peer) } else { self.friendIDs.remove(peer) }
            }.get()
        default:
            throw ChatError("friends takes list, add PEER or rm PEER")
        }
        return try await people().filter(\.friend)
    }

    public func pendingRequests() async -> [RequestRow] {
        (try? await loop.submit {
            let now = Self.nowMillis()
            return self.requests.map { RequestRow(peer: $0.key.base32, handle: $0.value.handle, waiting_seconds: Double(now - $0.value.since) / 1000) }
                .sorted { $0.handle < $1.handle }
        }.get()) ?? []
    }

    public func answer(_ query: String, accept: Bool) async throws {
        try await loop.submit {
            let peer = try self.resolve(query)
            guard self.requests.removeValue(forKey: peer) != nil else {
                throw ChatError("\(self.name(peer)) has no session request waiting (see hearsay requests)")
            }
            self.endpoint.answer(peer, accept: accept)
        }.get()
    }

    /// Marks what `query` sent as read and tells them (read receipts).
    public func markRead(_ query: String) async throws -> Int {
        let peer = try await loop.submit { try self.resolve(query) }.get()
        let unread = try store.unread(from: peer)
        guard !unread.isEmpty else { return 0 }
        writer.submit(unread.map { .markRead($0.id) })
        for m in unread { endpoint.sendRead(m.id, to: peer) }
        return unread.count
    }

    public func typing(_ query: String, on: Bool) async throws {
        let peer = try await loop.submit { try self.resolve(query) }.get()
        endpoint.sendTyping(on, to: peer)
    }

    /// The counters and the number of messages in the outbox, for metrics.
    public func stats() async -> (counts: [String: Int], outbox: Int) {
        (try? await loop.submit { (self.counters, self.pending.count) }.get()) ?? ([:], 0)
    }

    /// For the benchmark and tests: commits, operations and failures of the store's writer.
    public var writerCounts: (commits: Int, ops: Int, failures: Int) { writer.counts.withLock { $0 } }
}
#endif
