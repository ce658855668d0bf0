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
import ListenerLimits
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
    /// When a peer's nack was last logged (at most once a minute each).
    var refusalLogged: [NodeID: Int64] = [:]
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

    /// What the link-local XMPP listener will admit (`startLinkLocal`).
    let xmppAdmission: Admission

    public init(identity: NodeIdentity, handle: String, loop: EventLoop, store: ChatStore, options: ChatOptions,
                log: Logger,
                admissions: (native: Admission, xmpp: Admission) = (
                    Admission(listener: "chat", limits: NodeListenerLimits.standard.chat, budget: nil),
                    Admission(listener: "xmpp", limits: NodeListenerLimits.standard.xmpp, budget: nil))) throws {
        xmppAdmission = admissions.xmpp
        self.identity = identity
        self.handle = handle
        self.loop = loop
        self.store = store
        self.writer = StoreWriter(store: store, log: log)
        self.options = options
        self.log = log
        policyNow = options.policy
        endpoint = try NativeEndpoint(identity: identity, handle: handle, loop: loop, delegate: self,
                                      admission: admissions.native)
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
