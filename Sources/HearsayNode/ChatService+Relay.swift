#if Chat  // the package trait (Package.swift): off in `make release-overlay`
import ChatStore
import HearsayModel
import NIOCore
import NativeWire
import RealmNative
import RealmXMPP
import Realms
import Synchronization

/// Reaching link-local users at another site (ADR 0010): direct first; when a direct stream
/// fails for a user another node observes, that conversation goes through the observer, which
/// stands in on its LAN for this node's user (its own `_presence._tcp` record and stream name)
/// and relays the replies back. Both legs between nodes are native sessions (TLS).
extension ChatService {
    /// The node a conversation is relayed through now, and its chat address; nil: direct.
    func relayRoute(_ peer: NodeID, _ entry: PresenceEntry) -> (node: NodeID, address: PeerAddress)? {
        guard let r = relayVia[peer], Self.nowMillis() < r.until, r.node == entry.owner, let owner = peers[r.node],
            owner.state.isLive, let route = try? protocols.route(to: owner.entry)
        else {
            relayVia[peer] = nil
            return nil
        }
        return (r.node, route.address)
    }

    /// A direct stream to `instance` failed: if another live node observes that user, relay
    /// through it for the next 10 minutes, and send what waits now.
    func relayAfterDirectFailure(to instance: String) -> Bool {
        let key = linkLocalPeer(instance)
        guard let p = peers[key], p.entry.isForeign, p.entry.owner != identity.id, peers[p.entry.owner]?.state.isLive == true
        else { return false }
        if relayVia[key] == nil {
            log.info("link-local user not reachable from here: relaying through its observer",
                     metadata: ["peer": "\(instance)", "via": "\(name(p.entry.owner))"])
            count("relay-started")
        }
        relayVia[key] = (p.entry.owner, Self.nowMillis() + 600_000)
        return true
    }

    /// The name this node's LAN shows for a remote Hearsay user it stands in for.
    func standInName(for node: NodeID) -> String {
        "\(name(node))@hearsay-\(node.short)"
    }

    // MARK: NativeSessionDelegate: relayed messages (on the loop)

    /// Relayed messages from `peer`: for a user this node observes, written to that user; from
    /// a user `peer` observes, stored under that user's conversation, marked relayed by `peer`.
    /// One from a user the table does not say `peer` observes is a forgery (or a race with a
    /// takeover): refused (nacked, not stored), logged and counted (`relay-refused`).
    public func deliverRelayed(_ messages: [Outgoing], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void) {
        var forward = [(user: String, entry: PresenceEntry, message: ChatMessage)]()
        var incoming = [(user: String, message: ChatMessage)]()
        var refused = [String: Int]()
        for case .relay(let realm, let user, let m) in messages {
            let rows = foreignRows.values.filter { $0.entry.foreignName == user && $0.entry.realm == realm && $0.state.isLive }
            if let observed = rows.first(where: { $0.entry.owner == identity.id && $0.state == .alive }) {
                forward.append((user, observed.entry, m))
            } else if realm == RealmProtocol.linkLocalXMPP.realm, rows.contains(where: { $0.entry.owner == peer }) {
                incoming.append((user, m))
            } else {
                refused[user, default: 0] += 1
            }
        }
        for (user, n) in refused.sorted(by: { $0.key < $1.key }) {
            let observers = foreignRows.values.filter { $0.entry.foreignName == user && $0.state.isLive }.map { name($0.entry.owner) }
            count("relay-refused", n)
            let why = observers.isEmpty ? "the table has no such user"
                : "the table says \(observers.sorted().joined(separator: ", ")) observes them"
            log.warning("refused \(n) relayed message(s) from \(name(peer)) (\(peer.short)) said to come from \(user): \(why); not stored")
        }
        let parts = RelayOutcome(parts: (incoming.isEmpty ? 0 : 1) + (forward.isEmpty ? 0 : 1), refused: !refused.isEmpty, done: done)
        let received = incoming
        // From a user `peer` observes: stored under that user's conversation.
        if !incoming.isEmpty {
            let ops = received.map { StoreOp.receiveRelayed(ChatMessage(id: $0.message.id, sender: linkLocalPeer($0.user),
                                                                        sentAtMillis: $0.message.sentAtMillis, text: $0.message.text),
                                                            from: linkLocalPeer($0.user), via: peer) }
            writer.submit(ops) { results in
                parts.report(results != nil)
                guard let results else { return }
                self.loop.execute {
                    for ((user, m), new) in zip(received, results) where new {
                        self.count("relay-received")
                        let from = self.linkLocalPeer(user)
                        let stored = ChatMessage(id: m.id, sender: from, sentAtMillis: m.sentAtMillis, text: m.text)
                        self.onEvent?(ChatEventLine(type: "message", message: self.row(stored, peer: from, direction: .incoming,
                                                                                       state: .received, via: peer)))
                    }
                }
            }
        }
        guard !forward.isEmpty else { return }
        let done: @Sendable (Bool) -> Void = { parts.report($0) }
        // For a user this node observes: written to that user's stream under the sender's
        // stand-in name; acked once every one is written.
        guard let xmpp else { return done(false) }
        let local = standInName(for: peer)
        let fresh = standIns[local] == nil
        standIns[local] = (peer, Self.nowMillis())
        if fresh {
            xmpp.addLocalName(local)
            onStandIns?(standInPresences())
            log.info("standing in on this LAN for a remote user", metadata: ["as": "\(local)", "node": "\(peer.short)"])
        }
        let ids = Set(forward.map { $0.message.id.description })
        relayAcks.append((ids, done))
        // A new stand-in waits for its record to reach the buddy's client (about 1 s for finch).
        let delay: TimeAmount = fresh ? .milliseconds(2_500) : .zero
        let toWrite = forward
        loop.scheduleTask(in: delay) {
            for f in toWrite {
                guard let route = try? self.protocols.route(to: f.entry) else {
                    self.relayWritten(f.message.id.description, ok: false)
                    continue
                }
                let from = self.ownAddresses.first { $0.isIPv4 == route.address.host.isIPv4 }
                xmpp.send(f.message.text, id: f.message.id.description, to: f.user, at: route.address, from: from, as: local)
            }
        }
    }

    /// The `_presence._tcp` records of the remote users this node stands in for.
    func standInPresences() -> [LinkLocalPresenceRecord] {
        standIns.map { name, s in
            LinkLocalPresenceRecord(instance: name, first: self.name(s.node), status: peers[s.node]?.entry.status ?? .available)
        }.sorted { $0.instance < $1.instance }
    }

    /// A relayed message was written (or not) to the user's stream: ack the batch once all are.
    func relayWritten(_ id: String, ok: Bool) {
        for (i, entry) in relayAcks.enumerated() where entry.ids.contains(id) {
            if !ok {
                relayAcks.remove(at: i)
                entry.done(false)
                return
            }
            var e = entry
            e.ids.remove(id)
            if e.ids.isEmpty {
                relayAcks.remove(at: i)
                e.done(true)
            } else {
                relayAcks[i] = e
            }
            return
        }
    }

    /// A reply from a link-local user to a remote user this node stands in for: relayed to that
    /// user's node. (Not kept here: if that node cannot be reached now, the reply is lost; the
    /// client has no receipts to retry with.)
    func relayReply(text: String, from user: String, to local: String) {
        guard let s = standIns[local], let node = peers[s.node], let route = try? protocols.route(to: node.entry) else {
            log.notice("a reply to an unknown stand-in was dropped", metadata: ["from": "\(user)", "to": "\(local)"])
            return
        }
        standIns[local] = (s.node, Self.nowMillis())
        let m = ChatMessage(id: MessageID.timeOrdered(millis: Self.nowMillis(), using: &rng), sender: identity.id,
                            sentAtMillis: Self.nowMillis(), text: text)
        count("relay-replies")
        endpoint.send([.relay(realm: RealmProtocol.linkLocalXMPP.realm, user: user, message: m)], to: s.node, at: route.address)
    }
}

/// Answers a batch of relayed messages once: true only if every part went through and nothing
/// was refused (a refused message is nacked with the rest; those stored are acked on the retry
/// as duplicates, shown once).
final class RelayOutcome: Sendable {
    let state: Mutex<(left: Int, ok: Bool)>
    let done: @Sendable (Bool) -> Void

    init(parts: Int, refused: Bool, done: @escaping @Sendable (Bool) -> Void) {
        state = Mutex((parts, !refused))
        self.done = done
        if parts == 0 { done(false) }
    }

    func report(_ ok: Bool) {
        let finished = state.withLock { s -> Bool? in
            guard s.left > 0 else { return nil }
            s.left -= 1
            s.ok = s.ok && ok
            return s.left == 0 ? s.ok : nil
        }
        if let finished { done(finished) }
    }
}

/// What the node publishes on `_presence._tcp` for a remote user it stands in for.
public struct LinkLocalPresenceRecord: Hashable, Sendable {
    public var instance: String
    public var first: String
    public var status: PresenceStatus
}
#endif
