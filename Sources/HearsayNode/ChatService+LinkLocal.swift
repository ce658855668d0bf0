#if Chat  // the package trait (Package.swift): off in `make release-overlay`
import ChatStore
import HearsayModel
import NativeWire
import RealmXMPP
import Realms

/// The link-local XMPP realm (issue 6) in the node's chat: the same outbox, history and events
/// as native sessions, over `XMPPEndpoint`. XEP-0174 has no receipts: a message written to an
/// open stream counts as delivered; one that could not be written stays in the outbox.
extension ChatService: XMPPSessionDelegate {
    /// Listens for link-local streams as `localName` (the `_presence._tcp` instance the node
    /// publishes, "handle@host"): on `port`, or any free port if it is taken. Registers the realm
    /// in the protocol database. Returns the port bound.
    public func startLinkLocal(localName: String, port: Int = Int(RealmProtocol.linkLocalXMPP.defaultPort)) async throws -> Int {
        let endpoint = XMPPEndpoint(localName: localName, loop: loop, delegate: self)
        endpoint.admission = xmppAdmission
        let bound: Int
        do { bound = try await endpoint.listen(port: port) } catch { bound = try await endpoint.listen(port: 0) }
        try await loop.submit {
            self.xmpp = endpoint
            self.protocols.register(.linkLocalXMPP)
        }.get()
        log.info("link-local XMPP listening", metadata: ["instance": "\(localName)", "port": "\(bound)"])
        return bound
    }

    /// Whether messages for `peer` are on a connection (or one is being opened) now.
    func hasConnection(_ peer: NodeID) -> Bool {
        if let via = relayVia[peer] { return endpoint.hasConnectionOnLoop(via.node) }
        if let name = foreignNames[peer], let xmpp { return xmpp.hasStreamOnLoop(name) }
        return endpoint.hasConnectionOnLoop(peer)
    }

    /// Hands messages to the link-local endpoint, dialing from this node's address of the
    /// target's family (finch accepts a connection only from an address it resolved for us).
    func sendLinkLocal(_ messages: [ChatMessage], to name: String, at address: PeerAddress) {
        guard let xmpp else {
            for m in messages { pending[m.id]?.inFlight = false }
            return
        }
        let from = ownAddresses.first { $0.isIPv4 == address.host.isIPv4 }
        for m in messages { xmpp.send(m.text, id: m.id.description, to: name, at: address, from: from) }
    }

    func linkLocalPeer(_ instance: String) -> NodeID {
        conversationKey(name: instance, realm: RealmProtocol.linkLocalXMPP.realm)
    }

    // MARK: XMPPSessionDelegate (on the loop)

    public func instances(at address: HostAddress) -> [String] {
        Array(Set(foreignRows.values.filter {
            $0.entry.realm == RealmProtocol.linkLocalXMPP.realm && $0.entry.addresses.contains(address) && $0.state != .left
        }.compactMap(\.entry.foreignName)))
    }

    /// Whether a stream's local name is this node's own user (else a stand-in, ADR 0010).
    func isOwnName(_ local: String) -> Bool {
        local.caseInsensitiveCompare(xmpp?.localName ?? local) == .orderedSame
    }

    public func received(text: String, id: String?, from instance: String, to local: String) {
        guard isOwnName(local) else { return relayReply(text: text, from: instance, to: local) }
        received(text: text, id: id, from: instance)
    }

    public func sent(id: String, to instance: String, from local: String) {
        guard isOwnName(local) else { return relayWritten(id, ok: true) }
        sent(id: id, to: instance)
    }

    public func notSent(id: String, to instance: String, from local: String, reason: String) {
        guard isOwnName(local) else { return relayWritten(id, ok: false) }
        notSent(id: id, to: instance, reason: reason)
    }

    public func received(text: String, id: String?, from instance: String) {
        let peer = linkLocalPeer(instance)
        let m = ChatMessage(id: MessageID.timeOrdered(millis: Self.nowMillis(), using: &rng), sender: peer,
                            sentAtMillis: Self.nowMillis(), text: text)
        writer.submit([.receive(m, from: peer)]) { results in
            guard results?.first == true else { return }
            self.loop.execute {
                self.count("received")
                self.onEvent?(ChatEventLine(type: "message", message: self.row(m, peer: peer, direction: .incoming, state: .received)))
            }
        }
    }

    public func sent(id: String, to instance: String) {
        guard let mid = MessageID(id) else { return }
        acknowledged(mid, by: linkLocalPeer(instance))
    }

    public func notSent(id: String, to instance: String, reason: String) {
        guard let mid = MessageID(id), var item = pending[mid] else { return }
        item.inFlight = false
        // Direct first, relay second (ADR 0010): another node observes this user; try through it now.
        let relay = relayAfterDirectFailure(to: instance)
        item.nextAttemptMillis = relay ? 0 : Self.nowMillis() + options.retry.delay(afterAttempts: max(0, item.attempts - 1))
        pending[mid] = item
        if relay {
            loop.execute { self.send(to: self.linkLocalPeer(instance), force: false) }
            return
        }
        count("link-local-not-sent")
        log.notice("link-local message not sent: \(reason); it stays in the outbox", metadata: ["to": "\(instance)"])
    }

    public func event(_ event: XMPPEvent) {
        switch event {
        case .opened(let instance, let incoming):
            count("link-local-streams")
            log.info("link-local stream open", metadata: ["peer": "\(instance)", "incoming": "\(incoming)"])
            send(to: linkLocalPeer(instance), force: true)
        case .closed(let instance, let reason):
            log.info("link-local stream closed", metadata: ["peer": "\(instance ?? "?")", "reason": "\(reason)"])
        case .replaced(let instance):
            log.debug("link-local stream replaced", metadata: ["peer": "\(instance)"])
        case .refused(let address, let reason):
            count("link-local-refused")
            log.notice("link-local connection refused: \(reason)", metadata: ["from": "\(address)"])
        case .dialFailed(let instance, let reason):
            log.notice("link-local dial failed: \(reason)", metadata: ["peer": "\(instance)"])
        }
    }
}
#endif
