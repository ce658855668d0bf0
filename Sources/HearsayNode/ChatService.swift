#if Chat  // the package trait (Package.swift): off in `make release-overlay`
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ChatStore
import Conversation
import DequeModule
import Gossip
import HearsayModel
import Logging
import NIOCore
import NativeWire
import RealmNative
import Realms
import RealmXMPP

/// The node's chat: the durable store, the native endpoint, the outbox and its retries, and the
/// bridge between the gossip table (who is where, with which key) and sessions.
///
/// Data flow of a message (Docs/architecture.md, "Chat"):
/// `send` → outbox in the store (group commit) → route: table entry → realm → protocol
/// database → address → `NativeEndpoint.send` → TLS → the peer's endpoint → its store (group
/// commit) → ack → `acknowledged` → out of the outbox, `delivered`.
///
/// All state below is touched on `loop` (the node's one event loop, shared with gossip and the
/// endpoint); the store's commits run on the writer's thread and come back to the loop.
public final class ChatService: NativeSessionDelegate, @unchecked Sendable {
    struct Peer {
        var entry: PresenceEntry
        var state: MemberState
    }

    /// A message in the outbox, as the loop sees it.
    struct Pending {
        var message: ChatMessage
        var peer: NodeID
        var attempts: Int
        var nextAttemptMillis: Int64
        /// Handed to a connection (or a dial) and not acknowledged yet.
        var inFlight = false
    }

    public let identity: NodeIdentity
    public let handle: String
    let loop: EventLoop
    let store: ChatStore
    let writer: StoreWriter
    let options: ChatOptions
    let log: Logger
    var protocols = ProtocolDatabase()
    var endpoint: NativeEndpoint!
    var tick: RepeatedTask?
    var rng = SystemRandomNumberGenerator()

    // On the loop:
    var policyNow: SessionPolicy
    /// Native nodes by id, and users of other realms by `conversationKey` (their best entry).
    var peers: [NodeID: Peer] = [:]
    /// Every entry of another realm in the table, by its table id, and the user name of each
    /// conversation key.
    var foreignRows: [NodeID: Peer] = [:]
    var foreignNames: [NodeID: String] = [:]
    /// The link-local XMPP endpoint, once the node publishes its user on the LAN (issue 6).
    var xmpp: XMPPEndpoint?
    /// This node's own addresses (the entry's), to dial link-local users from.
    var ownAddresses: [HostAddress] = []
    /// Conversations with link-local users relayed through their observer, until when (ADR 0010).
    var relayVia: [NodeID: (node: NodeID, until: Int64)] = [:]
    /// Remote users this node stands in for on its LAN: stand-in name → their node, last use.
    var standIns: [String: (node: NodeID, lastMillis: Int64)] = [:]
    /// Relayed batches waiting for their messages to be written: ids left, and the ack to give.
    var relayAcks: [(ids: Set<String>, done: @Sendable (Bool) -> Void)] = []
    /// Publishes the stand-ins' records (set by the node, with its discovery).
    var onStandIns: (@Sendable ([LinkLocalPresenceRecord]) -> Void)?
    var remembered: [NodeID: KnownPeer] = [:]
    var friendIDs: Set<NodeID> = []
    var pending: [MessageID: Pending] = [:]
    /// Outbox order per peer (ids may linger after their ack; skipped when met).
    var order: [NodeID: Deque<MessageID>] = [:]
    var requests: [NodeID: (handle: String, since: Int64)] = [:]
    /// Peers that declined a session, and when: their messages wait in the outbox, and are not
    /// offered again on the peer's own (table changes, timers) for an hour, only when the user
    /// sends them something new.
    var declined: [NodeID: Int64] = [:]
    /// Peers with a session open now, and when each was last introduced to (see `introduce`).
    var open: Set<NodeID> = []
    var introduced: [NodeID: Int64] = [:]
    /// Asks gossip to send this node's entry to a peer that refused it as unknown (set by the node).
    var introduce: (@Sendable (NodeID) -> Void)?
    /// Where chat events go: the observers, and the control API's `events` clients when there
    /// are any (`controlWatching`). Nil when nobody listens, so that no event is even built.
    var onEvent: (@Sendable (ChatEventLine) -> Void)? {
        let control = controlWatching?() == true ? controlSink : nil
        if observers.isEmpty && control == nil { return nil }
        let all = observers + (control.map { [$0] } ?? [])
        return { @Sendable e in for o in all { o(e) } }
    }
    var observers: [@Sendable (ChatEventLine) -> Void] = []
    /// The control API's event stream, and whether a client follows it now (set by the node).
    var controlSink: (@Sendable (ChatEventLine) -> Void)?
    var controlWatching: (() -> Bool)?

    /// Calls `observer` on the node's event loop for every chat event (a message stored either
    /// way, a message delivered or read, sessions, requests): for in-process users such as the
    /// benchmark. Keep it short: it runs on the loop.
    public func observe(_ observer: @escaping @Sendable (ChatEventLine) -> Void) {
        loop.execute { self.observers.append(observer) }
    }
    /// Counters: refused handshakes, closes by reason, messages sent/acked/received/duplicates.
    public private(set) var counters: [String: Int] = [:]

    public init(identity: NodeIdentity, handle: String, loop: EventLoop, store: ChatStore, options: ChatOptions,
                log: Logger) throws {
        self.identity = identity
        self.handle = handle
        self.loop = loop
        self.store = store
        self.writer = StoreWriter(store: store)
        self.options = options
        self.log = log
        policyNow = options.policy
        endpoint = try NativeEndpoint(identity: identity, handle: handle, loop: loop, delegate: self)
    }

    static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// Loads the outbox, friends and remembered peers, listens; returns the chat port bound.
    public func start(host: HostAddress, port: UInt16) async throws -> UInt16 {
        let outbox = try store.outbox()
        let friends = try store.friends()
        let known = try store.knownPeers()
        let bound = try await endpoint.listen(on: try PeerAddress(host: host, port: port).socketAddress())
        try await loop.submit {
            for f in friends { self.friendIDs.insert(f.id) }
            for k in known { self.remembered[k.id] = k }
            for item in outbox {
                let m = item.message
                self.pending[m.id] = Pending(message: ChatMessage(id: m.id, sender: m.sender, sentAtMillis: m.sentAtMillis, text: m.text),
                                             peer: m.peer, attempts: item.attempts, nextAttemptMillis: 0)
                self.order[m.peer, default: []].append(m.id)
            }
            self.tick = self.loop.scheduleRepeatedTask(initialDelay: .milliseconds(self.options.tickMillis),
                                                       delay: .milliseconds(self.options.tickMillis)) { _ in self.retryDue() }
        }.get()
        if !outbox.isEmpty { log.info("chat outbox loaded", metadata: ["messages": "\(outbox.count)"]) }
        return UInt16(bound)
    }

    public func stop() async {
        tick?.cancel()
        await endpoint.close()
        if let x = try? await loop.submit({ self.xmpp }).get() { await x.close() }
        await writer.close()
    }

    func count(_ key: String, _ n: Int = 1) { if n > 0 { counters[key, default: 0] += n } }

    // MARK: The table (on the loop, from the gossip shell's events)

    /// A table change: keeps the mirror, remembers peers, and sends what waits for a peer that is
    /// back. Users of other realms are keyed by `conversationKey`: the same link-local user
    /// published by another observer (after a takeover) is the same conversation.
    func tableChanged(_ e: MembershipEvent) {
        guard e.id != identity.id else {
            ownAddresses = e.entry.entry.addresses
            return
        }
        let entry = e.entry.entry
        if entry.isForeign || foreignRows[e.id] != nil {
            if let state = e.state { foreignRows[e.id] = Peer(entry: entry, state: state) } else { foreignRows[e.id] = nil }
            if let name = entry.foreignName { settleForeign(name: name, realm: entry.realm) }
            return
        }
        mirror(e.id, e.state.map { Peer(entry: entry, state: $0) })
        // Its foreign users' liveness follows it.
        let observed = Set(foreignRows.values.filter { $0.entry.owner == e.id }.compactMap(\.entry.foreignKey))
        for user in observed { settleForeign(name: user.name, realm: user.realm) }
    }

    /// The id a conversation with a user of another realm is kept under: derived from this node,
    /// whoever observes the user now.
    func conversationKey(name: String, realm: String) -> NodeID {
        NodeID(foreignUser: name, realm: realm, owner: identity.id)
    }

    /// Picks the entry that stands for a foreign user: a live one whose observer is live (this
    /// node's own first), else any live one, else the latest.
    func settleForeign(name: String, realm: String) {
        let key = conversationKey(name: name, realm: realm)
        foreignNames[key] = name
        let rows = foreignRows.values.filter { $0.entry.foreignName == name && $0.entry.realm == realm }
        func ownerLive(_ p: Peer) -> Bool { p.entry.owner == identity.id || peers[p.entry.owner]?.state.isLive == true }
        let best = rows.filter { $0.state.isLive && ownerLive($0) }.sorted { ($0.entry.owner == identity.id ? 0 : 1) < ($1.entry.owner == identity.id ? 0 : 1) }.first
            ?? rows.first { $0.state.isLive } ?? rows.max { $0.entry.version < $1.entry.version }
        var shown = best
        if let b = best, b.state.isLive, !ownerLive(b) { shown = Peer(entry: b.entry, state: .dead) }  // its observer is gone
        mirror(key, shown)
    }

    func mirror(_ id: NodeID, _ peer: Peer?) {
        guard let peer else {
            peers[id] = nil
            return
        }
        let entry = peer.entry
        let state = peer.state
        let wasLive = peers[id]?.state.isLive ?? false
        let before = peers[id]?.entry
        peers[id] = peer
        if before?.handle != entry.handle || before?.addresses != entry.addresses || remembered[id] == nil {
            let k = KnownPeer(id: id, handle: entry.handle, realm: entry.realm, publicKey: entry.isForeign ? [] : entry.publicKey,
                              address: entry.addresses.first?.description, lastSeenMillis: Self.nowMillis())
            remembered[id] = k
            writer.submit([.rememberPeer(k)])
        }
        // Back, restarted (a new incarnation), or at a new address: what waits for it goes now.
        if state.isLive && (!wasLive || before?.chatPort != entry.chatPort || before?.addresses != entry.addresses
                            || before?.version.incarnation != entry.version.incarnation) {
            send(to: id, force: true)
        }
    }

    // MARK: Sending

    /// Resolves `query` (a handle, or a prefix of a node id) among the table and remembered peers.
    func resolve(_ query: String) throws(ChatError) -> NodeID {
        let q = query.lowercased()
        var handles: [NodeID: String] = [:]
        for (id, k) in remembered { handles[id] = k.handle }
        for (id, p) in peers { handles[id] = p.entry.handle }
        handles[identity.id] = nil
        let byHandle = handles.filter { $0.value == query }.map(\.key)
        let byHandleCI = byHandle.isEmpty ? handles.filter { $0.value.lowercased() == q }.map(\.key) : byHandle
        func describe(_ ids: [NodeID]) -> String {
            ids.sorted().map { "\(handles[$0] ?? "?") (\($0.short))" }.joined(separator: ", ")
        }
        if byHandleCI.count == 1 { return byHandleCI[0] }
        if byHandleCI.count > 1 {
            throw ChatError("\(byHandleCI.count) people are called \(query): \(describe(byHandleCI)); give an id prefix instead")
        }
        let compact = q.replacingOccurrences(of: "-", with: "")
        if compact.count >= 4 {
            let byID = handles.keys.filter { $0.base32.replacingOccurrences(of: "-", with: "").hasPrefix(compact) }
            if byID.count == 1 { return byID[0] }
            if byID.count > 1 { throw ChatError("the id prefix \(query) matches \(describe(byID)); give more of it") }
        }
        throw ChatError("nobody called \(query) is in the table (see `hearsay table`); give a handle or an id prefix of 4+ characters")
    }

    /// Queues `texts` for `query`, in order, durably; returns them as stored, once committed.
    public func send(_ texts: [String], to query: String) async throws -> (rows: [MessageRow], note: String?) {
        guard !texts.isEmpty else { throw ChatError("nothing to send") }
        for t in texts {
            guard !t.isEmpty else { throw ChatError("an empty message is not sent") }
            guard t.utf8.count <= NativeCodec.maxText else {
                throw ChatError("a message is at most \(NativeCodec.maxText) bytes; this one is \(t.utf8.count): split it")
            }
        }
        let (peer, messages) = try await loop.submit { () throws -> (NodeID, [ChatMessage]) in
            let peer = try self.resolve(query)
            if let p = self.peers[peer], self.protocols.lookup(realm: p.entry.realm) == nil {
                throw ChatError("\(p.entry.handle) is in realm \(p.entry.realm), which this node does not speak (hearsay protocols)")
            }
            let now = Self.nowMillis()
            let messages = texts.map {
                ChatMessage(id: MessageID.timeOrdered(millis: now, using: &self.rng), sender: self.identity.id, sentAtMillis: now, text: $0)
            }
            return (peer, messages)
        }.get()
        let results: [Bool]? = await withCheckedContinuation { c in
            writer.submit(messages.map { .queue($0, to: peer) }) { c.resume(returning: $0) }
        }
        guard results != nil else { throw ChatError("the chat store could not write the message (disk full? see the node's log)") }
        return try await loop.submit { () -> ([MessageRow], String?) in
            for m in messages {
                self.pending[m.id] = Pending(message: m, peer: peer, attempts: 0, nextAttemptMillis: 0)
                self.order[peer, default: []].append(m.id)
            }
            self.count("sent", messages.count)
            let rows = messages.map { self.row($0, peer: peer, direction: .outgoing, state: .queued) }
            for r in rows { self.onEvent?(ChatEventLine(type: "message", message: r)) }
            self.declined[peer] = nil  // the user asks again
            let note = self.send(to: peer, force: true)
            return (rows, note)
        }.get()
    }

    /// Hands what waits for `peer` to the endpoint, in order: everything not in flight when
    /// `force` (a new message, the peer back), else only from the first due one. Returns why
    /// nothing could go, if so.
    @discardableResult
    func send(to peer: NodeID, force: Bool) -> String? {
        guard var ids = order[peer], !ids.isEmpty else { return nil }
        if let at = declined[peer] {
            guard Self.nowMillis() - at > 3_600_000 else {
                return "\(name(peer)) declined the session: the message waits in the outbox until you send again"
            }
            declined[peer] = nil
        }
        guard let p = peers[peer] else { return "\(remembered[peer]?.handle ?? peer.short) is not in the table now: the message waits in the outbox" }
        guard p.state.isLive else { return "\(p.entry.handle) is \(p.state) now: the message waits in the outbox and goes when gossip shows it back" }
        let route: Route
        do { route = try protocols.route(to: p.entry) } catch {
            return "\(error): the message waits in the outbox"
        }
        let now = Self.nowMillis()
        var retried = [StoreOp]()
        var started = false
        var kept = Deque<MessageID>()
        var batch = [ChatMessage]()
        while let id = ids.popFirst() {
            guard var item = pending[id] else { continue }  // acknowledged meanwhile
            kept.append(id)
            if item.inFlight { continue }
            if !force && !started && item.nextAttemptMillis > now { break }
            started = true
            item.inFlight = true
            item.attempts += 1
            item.nextAttemptMillis = now + options.retry.delay(afterAttempts: item.attempts - 1, jitter: Double.random(in: 0..<1, using: &rng))
            if item.attempts > 1 { retried.append(.attempted(id, nextAttemptMillis: item.nextAttemptMillis)) }
            pending[id] = item
            batch.append(item.message)
        }
        kept.append(contentsOf: ids)
        order[peer] = kept
        if route.protocolEntry.realm == RealmProtocol.linkLocalXMPP.realm, let name = p.entry.foreignName {
            if let via = relayRoute(peer, p.entry) {
                endpoint.send(batch.map { .relay(realm: p.entry.realm, user: name, message: $0) }, to: via.node, at: via.address)
            } else {
                sendLinkLocal(batch, to: name, at: route.address)
            }
        } else {
            endpoint.send(batch, to: peer, at: route.address)
        }
        if !retried.isEmpty {
            count("retried", retried.count)
            writer.submit(retried)
        }
        return nil
    }

    /// The outbox's timer: messages whose connection went away are no longer in flight; those
    /// whose retry time has come go again.
    func retryDue() {
        let now = Self.nowMillis()
        for (peer, ids) in order {
            guard !ids.isEmpty else {
                order[peer] = nil
                continue
            }
            if !hasConnection(peer) {
                for id in ids where pending[id]?.inFlight == true { pending[id]?.inFlight = false }
            }
            if ids.contains(where: { pending[$0].map { !$0.inFlight && $0.nextAttemptMillis <= now } ?? false }) {
                send(to: peer, force: false)
            }
        }
    }

    // MARK: NativeSessionDelegate (called on the loop)

    public func policy() -> SessionPolicy { policyNow }
    public func isFriend(_ id: NodeID) -> Bool { friendIDs.contains(id) }

    public func knows(_ id: NodeID, publicKey: [UInt8]) -> Bool {
        guard let p = peers[id] else { return false }
        return !p.entry.isForeign && p.entry.publicKey == publicKey
    }

    public func deliver(_ messages: [ChatMessage], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void) {
        writer.submit(messages.map { .receive($0, from: peer) }) { results in
            done(results != nil)
            guard let results else { return }
            self.loop.execute {
                let sink = self.onEvent
                let stored = results.filter { $0 }.count
                self.count("received", stored)
                self.count("duplicates", results.count - stored)
                guard let sink else { return }
                for (m, new) in zip(messages, results) where new {
                    sink(ChatEventLine(type: "message", message: self.row(m, peer: peer, direction: .incoming, state: .received)))
                }
            }
        }
    }

    public func acknowledged(_ id: MessageID, by peer: NodeID) {
        guard pending.removeValue(forKey: id) != nil else { return }
        if order[peer]?.first == id { order[peer]?.removeFirst() }
        count("delivered")
        writer.submit([.acknowledged(id)])
        onEvent?(ChatEventLine(type: "state", id: id.description, state: "delivered", peer: peer.base32))
    }

    public func sessionRequested(by peer: NodeID, handle: String) {
        requests[peer] = (handle, Self.nowMillis())
        log.notice("session request waits for your answer (hearsay requests)", metadata: ["peer": "\(handle) \(peer.short)"])
        onEvent?(ChatEventLine(type: "request", peer: peer.base32, handle: handle))
    }

    public func event(_ event: NativeEvent) {
        switch event {
        case .opened(let peer):
            open.insert(peer)
            count("sessions-opened")
            log.debug("session open", metadata: ["peer": "\(name(peer))"])
            onEvent?(ChatEventLine(type: "session", state: "open", peer: peer.base32, handle: name(peer)))
            send(to: peer, force: true)  // what waited for this peer goes now, whoever dialed
        case .closed(let peer, let reason, let detail):
            count("closed-" + String(describing: reason).replacingOccurrences(of: " ", with: "-"))
            if let peer {
                requests[peer] = nil
                let now = Self.nowMillis()
                // Closed before a session opened: often a peer that restarted and does not know
                // this node's key yet. Gossip tells it now (at most every second), and the first
                // tries come again within half a second rather than after their backoff.
                let early = open.remove(peer) == nil
                if early, now - (introduced[peer] ?? 0) >= 1_000 {
                    introduced[peer] = now
                    introduce?(peer)
                }
                for id in order[peer] ?? [] {
                    guard var item = pending[id], item.inFlight else { continue }
                    item.inFlight = false
                    let backoff = options.retry.delay(afterAttempts: max(0, item.attempts - 1))
                    item.nextAttemptMillis = now + (early && item.attempts <= 5 ? min(backoff, 500) : backoff)
                    pending[id] = item
                }
            }
            let level: Logger.Level = reason == .normal || reason == .duplicateConnection ? .debug : .notice
            log.log(level: level, "chat connection closed: \(detail)", metadata: ["peer": "\(peer.map(name) ?? "?")", "reason": "\(reason)"])
            onEvent?(ChatEventLine(type: "session", state: "closed", peer: peer?.base32, handle: peer.map(name), detail: "\(reason): \(detail)"))
        case .declinedBy(let peer):
            declined[peer] = Self.nowMillis()
            log.notice("\(name(peer)) declined the session: messages to it wait in the outbox until you send again")
            onEvent?(ChatEventLine(type: "session", state: "declined", peer: peer.base32, handle: name(peer),
                                   detail: "declined the session"))
        case .ignored(let peer, let what):
            count("ignored")
            log.notice("ignored \(what)", metadata: ["peer": "\(name(peer))"])
        case .refused(let why):
            count("refused")
            log.warning("chat connection refused: \(why)")
            onEvent?(ChatEventLine(type: "session", state: "refused", detail: why))
        case .typing(let peer, let on):
            onEvent?(ChatEventLine(type: "typing", peer: peer.base32, handle: name(peer), on: on))
        case .read(let peer, let id):
            writer.submit([.markRead(id)])
            onEvent?(ChatEventLine(type: "read", id: id.description, state: "read", peer: peer.base32))
        }
    }

    // MARK: Queries and user actions (from the control API)

    func name(_ id: NodeID) -> String {
        if id == identity.id { return handle }
        return peers[id]?.entry.handle ?? remembered[id]?.handle ?? id.short
    }

    func realm(_ id: NodeID) -> (String, Bool) {
        let realm = peers[id]?.entry.realm ?? remembered[id]?.realm ?? "hearsay"
        return (realm, realm == RealmProtocol.native.realm)
    }

    func row(_ m: ChatMessage, peer: NodeID, direction: StoredMessage.Direction, state: StoredMessage.State) -> MessageRow {
        let (from, to) = direction == .outgoing ? (identity.id, peer) : (peer, identity.id)
        let (realm, secure) = self.realm(peer)
        return MessageRow(id: m.id.description, from: from.base32, from_handle: name(from), to: to.base32, to_handle: name(to),
                          peer: peer.base32, direction: direction.rawValue, text: m.text, sent_ms: m.sentAtMillis,
                          state: state.rawValue, realm: realm, secure: secure)
    }

    func row(_ m: StoredMessage) -> MessageRow {
        row(ChatMessage(id: m.id, sender: m.sender, sentAtMillis: m.sentAtMillis, text: m.text), peer: m.peer,
            direction: m.direction, state: m.state)
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
/// A user of another realm, by realm and name (whoever observes it).
struct ForeignUser: Hashable {
    var realm: String
    var name: String
}

extension PresenceEntry {
    var foreignKey: ForeignUser? { foreignName.map { ForeignUser(realm: realm, name: $0) } }
}
#endif
