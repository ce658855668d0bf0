import Conversation
import DequeModule
import HearsayModel
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import NativeTLS
import NativeWire
import Synchronization

/// What the native endpoint needs from the node: its user's policy, friends and known peers,
/// and where delivered messages and acks go (the store).
public protocol NativeSessionDelegate: AnyObject, Sendable {
    func policy() -> SessionPolicy
    func isFriend(_ id: NodeID) -> Bool
    /// Whether `id` is a node of the table with this key (the listening side's TLS check).
    func knows(_ id: NodeID, publicKey: [UInt8]) -> Bool
    /// Store `messages` from `peer` (in their order; the ones arrived in one read, so that they
    /// share a commit), then call `done(true)` from any thread: they are then acked. A message
    /// already stored counts as stored (it is acked again, shown once). `done(false)`: not
    /// stored, not acked; the sender tries again later.
    func deliver(_ messages: [ChatMessage], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void)
    /// The same for relayed messages (`.relay` items), when this node relays (ADR 0010).
    func deliverRelayed(_ messages: [Outgoing], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void)
    func acknowledged(_ id: MessageID, by peer: NodeID)
    /// `ask` policy: `peer` wants a session; answer with `NativeEndpoint.answer`.
    func sessionRequested(by peer: NodeID, handle: String)
    func event(_ event: NativeEvent)
}

/// What the endpoint carries for the node: its user's chat messages, and relayed messages for
/// or from a user of another realm (ADR 0010).
public enum Outgoing: Hashable, Sendable {
    case chat(ChatMessage)
    case relay(realm: String, user: String, message: ChatMessage)

    public var message: ChatMessage {
        switch self {
        case .chat(let m), .relay(_, _, let m): m
        }
    }
}

extension NativeSessionDelegate {
    /// Relayed messages (ADR 0010) from `peer`: by default not taken (not acked; they stay in
    /// their sender's outbox). A node that relays overrides it.
    public func deliverRelayed(_ messages: [Outgoing], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void) {
        event(.ignored(peer, "\(messages.count) relayed message(s): this node does not relay"))
        done(false)
    }
}

/// What happened on the native endpoint, for logs and counters.
public enum NativeEvent: Hashable, Sendable {
    case opened(NodeID)
    case closed(NodeID?, CloseReason, String)
    /// A TLS handshake refused: an impostor or an unknown dialer.
    case refused(String)
    /// The peer is typing (true) or stopped (false).
    case typing(NodeID, Bool)
    /// The peer read one of this node's messages.
    case read(NodeID, MessageID)
    /// The peer (its user, or its `friends` policy) declined this node's session request.
    case declinedBy(NodeID)
    /// A frame this node does not act on (yet), left unacknowledged.
    case ignored(NodeID, String)
}

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
    /// Messages for a peer whose session is not open yet. Dropped if it does not open: the
    /// node's outbox (ChatStore) keeps them and sends them again later.
    var waiting: [NodeID: [Outgoing]] = [:]

    public init(identity: NodeIdentity, handle: String, loop: EventLoop, delegate: NativeSessionDelegate) throws {
        self.identity = identity
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
                ch.eventLoop.makeCompletedFuture { try self.configure(ch, role: .listener, expected: nil) }
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

/// Cuts the TLS plaintext into frames (NIO holds the bytes); a bad length closes the connection.
struct NativeFrameHandler: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: 4) else { return .needMoreData }
        let n = try NativeFrameDecoder.payloadLength(header)
        guard buffer.readableBytes >= 4 + n else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readBytes(length: n)!))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// One channel: runs its `Connection` and carries out its actions.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = [UInt8]
    typealias OutboundOut = ByteBuffer

    unowned let endpoint: NativeEndpoint
    let channel: Channel
    let role: Connection.Role
    /// The node a dialed connection is meant for.
    let expected: NodeID?
    var peer: NodeID?
    var connection: Connection?
    var keepAlive: RepeatedTask?
    /// Chat messages sent on this connection and not acknowledged yet, in order.
    var unacked = Deque<Outgoing>()
    /// Messages received in the current read, stored together when the read completes.
    var arrived: [ChatMessage] = []
    var arrivedRelays: [Outgoing] = []

    init(endpoint: NativeEndpoint, channel: Channel, role: Connection.Role, expected: NodeID?) {
        self.endpoint = endpoint
        self.channel = channel
        self.role = role
        self.expected = expected
    }

    static func millis() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let peer {
            guard endpoint.established(self, peer: peer) else { return }
            var c = Connection(me: endpoint.identity.id, peer: peer, role: role, nowMillis: Self.millis())
            let actions = c.start()
            connection = c
            run(actions)
            keepAlive = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { [weak self] _ in
                guard let self, var c = self.connection else { return }
                let a = c.tick(nowMillis: Self.millis())
                self.connection = c
                self.run(a)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var c = connection, let delegate = endpoint.delegate else { return }
        let message: NativeMessage
        do { message = try NativeCodec.decode(unwrapInboundIn(data)) } catch {
            let a = c.close(.badFrame, "\(error)")
            connection = c
            run(a)
            return
        }
        let wasNegotiated = { if case .negotiated = c.state { true } else { false } }()
        let actions = c.received(message, nowMillis: Self.millis(), policy: delegate.policy(),
                                 isFriend: delegate.isFriend(c.peer))
        connection = c
        run(actions)
        // The dialer asks for its session as soon as the hellos are through.
        if role == .dialer, !wasNegotiated, case .negotiated = c.state {
            let a = c.requestSession(handle: endpoint.handle)
            connection = c
            run(a)
        }
    }

    /// What arrived in this read goes to the store in one batch; acks go once it is stored.
    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        guard let delegate = endpoint.delegate, let peer else { return }
        if !arrivedRelays.isEmpty {
            let relays = arrivedRelays
            arrivedRelays = []
            let loop = context.eventLoop
            delegate.deliverRelayed(relays, from: peer) { [weak self] ok in
                guard ok else { return }
                loop.execute {
                    guard let self, var c = self.connection else { return }
                    var acks = [ConnectionAction]()
                    for m in relays { acks += c.stored(m.message.id) }
                    self.connection = c
                    self.run(acks)
                }
            }
        }
        guard !arrived.isEmpty else { return }
        let batch = arrived
        arrived = []
        let loop = context.eventLoop
        delegate.deliver(batch, from: peer) { [weak self] ok in
            guard ok else { return }
            loop.execute {
                guard let self, var c = self.connection else { return }
                var acks = [ConnectionAction]()
                for m in batch { acks += c.stored(m.id) }
                self.connection = c
                self.run(acks)
            }
        }
    }

    /// Sends chat messages on the open session, flushed once, and remembers them until their acks.
    func sendChats(_ messages: [Outgoing]) {
        guard var c = connection, !messages.isEmpty else { return }
        var actions = [ConnectionAction]()
        actions.reserveCapacity(messages.count)
        for m in messages {
            let a: [ConnectionAction]
            switch m {
            case .chat(let chat): a = c.send(chat)
            case .relay(let realm, let user, let chat): a = c.sendRelay(realm: realm, user: user, chat)
            }
            if !a.isEmpty { unacked.append(m) }
            actions += a
        }
        connection = c
        run(actions)
    }

    func run(_ actions: [ConnectionAction]) {
        guard let delegate = endpoint.delegate, let peer else { return }
        var wrote = false
        var sentClose = false  // a close action without a close frame sent: the peer closed
        defer { if wrote { channel.flush() } }
        for a in actions {
            switch a {
            case .send(let m):
                if case .close = m { sentClose = true }
                var b = channel.allocator.buffer(capacity: 64)
                b.writeBytes(NativeCodec.frame(m))
                channel.write(b, promise: nil)
                wrote = true
            case .close(let reason, let detail):
                delegate.event(.closed(peer, reason, detail))
                if reason == .declined && !sentClose { delegate.event(.declinedBy(peer)) }
                channel.flush()  // the close frame first
                wrote = false
                channel.close(promise: nil)
            case .askUser(let handle):
                delegate.sessionRequested(by: peer, handle: handle)
            case .sessionOpen:
                endpoint.opened(self, peer: peer)
            case .deliver(let m):
                arrived.append(m)
            case .acknowledged(let id):
                if unacked.first?.message.id == id { unacked.removeFirst() } else { unacked.removeAll { $0.message.id == id } }
                delegate.acknowledged(id, by: peer)
            case .typing(let on):
                delegate.event(.typing(peer, on))
            case .read(let id):
                delegate.event(.read(peer, id))
            case .relay(let realm, let user, let m):
                arrivedRelays.append(.relay(realm: realm, user: user, message: m))
            }
        }
    }

    func closeQuietly() {
        peer = nil  // no longer stands for the pair
        channel.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAlive?.cancel()
        endpoint.closed(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let peer { endpoint.delegate?.event(.closed(peer, .badFrame, "\(error)")) }
        context.close(promise: nil)
    }
}
