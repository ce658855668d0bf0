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

    /// Strong: a channel can outlive its endpoint's owner (one still dialing or handshaking when
    /// `close()` ran, one dropped after a simultaneous dial), and its last events still reach the
    /// endpoint. The cycle through `connections` ends when the channel closes (`closed`).
    let endpoint: NativeEndpoint
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
    /// After a batch was not stored (ADR 0011), for chat and for relayed messages apart (their
    /// sender keeps them in different queues): the messages nacked since, and when (uptime ms) a
    /// batch last failed. Until one of them arrives again (the sender's retry, which starts at the
    /// first refused message) everything of that kind arriving is nacked unread, however late it
    /// comes, so that nothing is stored ahead of them. A sender that sends none of them again
    /// within the endpoint's `refusalWindowMillis` does not retry: storing resumes.
    struct Refusal {
        var ids: Set<MessageID> = []
        var at: Int64 = 0
    }
    var refusing = [false: Refusal(), true: Refusal()]

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
        // TLS proved the key and the hellos are through: no longer a pending stranger.
        switch c.state {
        case .negotiated, .open: if role == .listener { Admission.passed(context.channel) }
        default: break
        }
        // The dialer asks for its session as soon as the hellos are through.
        if role == .dialer, !wasNegotiated, case .negotiated = c.state {
            let a = c.requestSession(handle: endpoint.handle)
            connection = c
            run(a)
        }
    }

    /// What arrived in this read goes to the store in one batch; acks go once it is stored, nacks
    /// if it was not (ADR 0011).
    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        guard let delegate = endpoint.delegate, let peer else { return }
        if !arrivedRelays.isEmpty {
            let relays = arrivedRelays
            arrivedRelays = []
            take(relays, relayed: true, id: \.message.id) { items, done in delegate.deliverRelayed(items, from: peer, done: done) }
        }
        guard !arrived.isEmpty else { return }
        let batch = arrived
        arrived = []
        take(batch, relayed: false, id: \.id) { items, done in delegate.deliver(items, from: peer, done: done) }
    }

    /// Hands messages to the node (`deliver`) and answers each: ack once stored, nack if not.
    /// While refusing, those before the first refused one sent again are nacked without being
    /// offered; from it on they are offered, and the refusal ends.
    func take<T>(_ items: [T], relayed: Bool, id: (T) -> MessageID,
                 _ deliver: ([T], @escaping @Sendable (Bool) -> Void) -> Void) {
        var items = items
        if let r = refusing[relayed], !r.ids.isEmpty, Self.millis() - r.at < Int64(endpoint.refusalWindowMillis) {
            let retry = items.firstIndex { r.ids.contains(id($0)) } ?? items.endIndex
            let early = items[..<retry].map(id)
            refusing[relayed]?.ids.formUnion(early)
            answer(early, stored: false)
            guard retry < items.endIndex else { return }
            items = Array(items[retry...])
        }
        refusing[relayed] = Refusal()
        let ids = items.map(id)
        let loop = channel.eventLoop
        deliver(items) { [weak self] ok in
            loop.execute {
                guard let self else { return }
                if !ok {
                    self.refusing[relayed, default: Refusal()].ids.formUnion(ids)
                    self.refusing[relayed]?.at = Self.millis()
                }
                self.answer(ids, stored: ok)
            }
        }
    }

    func answer(_ ids: [MessageID], stored: Bool) {
        guard var c = connection else { return }
        var actions = [ConnectionAction]()
        for id in ids {
            actions += stored ? c.stored(id)
                : c.refuse(id, retryAfterMillis: NativeEndpoint.refusalRetryMillis, reason: NativeEndpoint.refusalReason)
        }
        connection = c
        run(actions)
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
            case .refused(let id, let after, let reason):
                unacked.removeAll { $0.message.id == id }
                delegate.refused(id, by: peer, retryAfterMillis: after, reason: reason)
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
