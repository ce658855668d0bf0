import Conversation
import DequeModule
import HearsayModel
import ListenerLimits
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import NativeTLS
import NativeWire
import Synchronization

/// The native realm's network side: a TLS 1.3 listener on the chat port, outgoing connections,
/// one `Conversation.Connection` per channel, one connection kept per pair of nodes. Everything
/// runs on one event loop.
public final class NativeEndpoint: @unchecked Sendable {
    public let identity: NodeIdentity
    public let loop: EventLoop
    let handle: String
    weak var delegate: NativeSessionDelegate?
    let serverContext: NIOSSLContext
    let clientContext: NIOSSLContext
    var listener: Channel?
    /// On the loop: the open or opening connection to each peer, and what waits for it to open.
    var connections: [NodeID: ConnectionHandler] = [:]
    /// Peers being dialed (TCP and TLS not through yet).
    var dialing: Set<NodeID> = []
    /// How long a peer is asked to wait before sending again what this node could not store,
    /// and what its log is told (ADR 0011).
    public static let refusalRetryMillis: UInt32 = 1_000
    public static let refusalReason = "not stored by the receiver (its chat store failed, e.g. disk full, or it refused "
        + "a relayed message; see its log): kept in the outbox, sent again"
    /// After a refusal, how long the handler waits for the sender to send one of the refused
    /// messages again before it stores what arrives anyway (a sender that does not retry). A
    /// Hearsay sender retries after `refusalRetryMillis` and its 500 ms timer (ADR 0011).
    public static let refusalMaxMillis: UInt32 = 30_000
    /// This endpoint's window (`refusalMaxMillis` unless told otherwise; tests shorten or
    /// lengthen it so that what they assert does not hang on how loaded the machine is).
    let refusalWindowMillis: UInt32
    /// What the listener admits: caps, the handshake deadline, the node's descriptor reserve.
    public let admission: Admission
    /// Messages for a peer whose session is not open yet. Dropped if it does not open: the
    /// node's outbox (ChatStore) keeps them and sends them again later.
    var waiting: [NodeID: [Outgoing]] = [:]

    public init(identity: NodeIdentity, handle: String, loop: EventLoop, delegate: NativeSessionDelegate,
                refusalWindowMillis: UInt32 = NativeEndpoint.refusalMaxMillis,
                admission: Admission = Admission(listener: "chat", limits: NodeListenerLimits.standard.chat, budget: nil)) throws {
        self.identity = identity
        self.admission = admission
        self.refusalWindowMillis = refusalWindowMillis
        self.handle = handle
        self.loop = loop
        self.delegate = delegate
        serverContext = try IdentityTLS.serverContext(identity)
        clientContext = try IdentityTLS.clientContext(identity)
    }

    /// Listens on `address`; returns the port bound.
    public func listen(on address: SocketAddress) async throws -> Int {
        let channel = try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                // Over a cap: NIO closes it at once. Admitted: pending until its hellos are through.
                guard self.admission.admit(ch) else { return ch.eventLoop.makeSucceededVoidFuture() }
                return ch.eventLoop.makeCompletedFuture { try self.configure(ch, role: .listener, expected: nil) }
            }
            .bind(to: address).get()
        listener = channel
        return channel.localAddress?.port ?? 0
    }

    /// Sends `message` to `peer` at `address`: over the open connection, or after opening one.
    public func send(_ message: ChatMessage, to peer: NodeID, at address: PeerAddress) {
        send([message], to: peer, at: address)
    }

    /// Sends `messages`, in order, to `peer` at `address`: over the open connection (written
    /// together, one flush), or after opening one.
    public func send(_ messages: [ChatMessage], to peer: NodeID, at address: PeerAddress) {
        send(messages.map(Outgoing.chat), to: peer, at: address)
    }

    /// Sends chat messages and relayed messages, in order, to `peer` at `address`.
    public func send(_ messages: [Outgoing], to peer: NodeID, at address: PeerAddress) {
        guard !messages.isEmpty else { return }
        loop.execute {
            if let c = self.connections[peer], c.connection?.isOpen == true {
                c.sendChats(messages)
                return
            }
            var queued = self.waiting[peer] ?? []
            let known = Set(queued.map(\.message.id))
            queued += messages.filter { !known.contains($0.message.id) }
            self.waiting[peer] = queued
            guard self.connections[peer] == nil, !self.dialing.contains(peer) else { return }
            self.dial(peer, at: address)
        }
    }

    /// Tells `peer` that its user is typing, or read a message: only on an open session (these
    /// are hints, not worth a dial).
    public func sendTyping(_ on: Bool, to peer: NodeID) { onConnection(peer) { $0.sendTyping(on) } }

    public func sendRead(_ id: MessageID, to peer: NodeID) { onConnection(peer) { $0.sendRead(id) } }

    /// Runs `step` on the connection to `peer`, if there is one, and carries out its actions.
    func onConnection(_ peer: NodeID, _ step: @escaping @Sendable (inout Connection) -> [ConnectionAction]) {
        loop.execute {
            guard let c = self.connections[peer], var conn = c.connection else { return }
            let a = step(&conn)
            c.connection = conn
            c.run(a)
        }
    }

    /// On the loop: whether a connection to `peer` is kept or being dialed (the chat service's
    /// outbox timer asks, from the same loop).
    public func hasConnectionOnLoop(_ peer: NodeID) -> Bool {
        loop.preconditionInEventLoop()
        return connections[peer] != nil || dialing.contains(peer)
    }

    /// Whether a session with `peer` is open now.
    public func isOpen(_ peer: NodeID) async -> Bool {
        (try? await loop.submit { self.connections[peer]?.connection?.isOpen == true }.get()) ?? false
    }

    /// The user's answer to `sessionRequested`.
    public func answer(_ peer: NodeID, accept: Bool) { onConnection(peer) { accept ? $0.accept() : $0.decline() } }

    /// The peers with a connection kept now (for tests and `hearsay doctor`).
    public func connectedPeers() async -> Set<NodeID> {
        (try? await loop.submit { Set(self.connections.keys) }.get()) ?? []
    }

    public func close() async {
        let channels: [Channel] = (try? await loop.submit { [self.listener].compactMap { $0 } + self.connections.values.map(\.channel) }.get()) ?? []
        for c in channels { try? await c.close() }
    }

    // MARK: On the loop

    func dial(_ peer: NodeID, at address: PeerAddress) {
        guard let socket = try? SocketAddress(ipAddress: address.host.description, port: Int(address.port)) else { return }
        dialing.insert(peer)
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try self.configure(ch, role: .dialer, expected: peer) }
            }
            .connect(to: socket)
            .whenComplete { result in
                guard case .failure(let error) = result else { return }
                self.dialing.remove(peer)
                self.waiting[peer] = nil
                self.delegate?.event(.closed(peer, .normal, "cannot connect to \(address): \(error)"))
            }
    }

    func configure(_ ch: Channel, role: Connection.Role, expected: NodeID?) throws {
        let handler = ConnectionHandler(endpoint: self, channel: ch, role: role, expected: expected)
        let verify = IdentityTLS.verifier(
            expected: expected, known: { [weak self] id, key in self?.delegate?.knows(id, publicKey: key) ?? false }
        ) { [weak self] outcome in
            switch outcome {
            case .success(let id): handler.peer = id
            case .failure(let f): self?.delegate?.event(.refused(f.description))
            }
        }
        let tls: ChannelHandler = role == .listener
            ? NIOSSLServerHandler(context: serverContext, customVerificationCallback: verify)
            : try NIOSSLClientHandler(context: clientContext, serverHostname: nil, customVerificationCallback: verify)
        try ch.pipeline.syncOperations.addHandler(tls)
        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(NativeFrameHandler()))
        try ch.pipeline.syncOperations.addHandler(handler)
    }

    /// TLS proved who is on `handler`'s channel: keep it (or the other one of a simultaneous dial).
    func established(_ handler: ConnectionHandler, peer: NodeID) -> Bool {
        if handler.role == .dialer { dialing.remove(peer) }
        if let other = connections[peer], other !== handler {
            let keepNew = Connection.keepsDialedConnection(me: identity.id, peer: peer, dialedByMe: handler.role == .dialer)
            let (keep, drop) = keepNew ? (handler, other) : (other, handler)
            connections[peer] = keep
            // What went out on the dropped connection without an ack goes again on the kept one
            // (the receiver drops duplicates by message id).
            requeue(Array(drop.unacked), for: peer)
            drop.unacked = []
            drop.closeQuietly()
            flush(peer)
            return keep === handler
        }
        connections[peer] = handler
        return true
    }

    func opened(_ handler: ConnectionHandler, peer: NodeID) {
        delegate?.event(.opened(peer))
        flush(peer)
    }

    /// A connection ended. Refused by the peer or by this side (declined, wrong identity, no
    /// common version...): what waited for it is dropped (the outbox keeps it). Otherwise (the
    /// losing side of a simultaneous dial, a broken link) its unacked messages wait for the next
    /// connection, which may already be on its way.
    func closed(_ handler: ConnectionHandler) {
        if handler.role == .dialer, let peer = handler.expected {
            dialing.remove(peer)
            if handler.peer == nil && handler.connection == nil && connections[peer] == nil {
                // TCP went through but TLS did not (refused key, the peer hung up): what waited is dropped.
                waiting[peer] = nil
                delegate?.event(.closed(peer, .normal, "the connection ended before the TLS handshake completed"))
                return
            }
        }
        guard let peer = handler.peer else { return }
        if connections[peer] === handler { connections[peer] = nil }
        if case .closed(let reason)? = handler.connection?.state, reason != .normal {
            if connections[peer] == nil { waiting[peer] = nil }
            return
        }
        requeue(Array(handler.unacked), for: peer)
        handler.unacked = []
        flush(peer)
    }

    /// Puts messages back in front of what waits for `peer`, once each.
    func requeue(_ messages: [Outgoing], for peer: NodeID) {
        guard !messages.isEmpty else { return }
        let queued = waiting[peer] ?? []
        waiting[peer] = messages.filter { m in !queued.contains { $0.message.id == m.message.id } } + queued
    }

    /// Sends what waits for `peer` if its connection is open.
    func flush(_ peer: NodeID) {
        guard let c = connections[peer], c.connection?.isOpen == true else { return }
        c.sendChats(waiting.removeValue(forKey: peer) ?? [])
    }
}
