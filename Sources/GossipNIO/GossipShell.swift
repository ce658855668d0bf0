import Gossip
import HearsayModel
import ListenerLimits
import NIOCore
import NIOPosix

/// Runs a `GossipInstance` on real sockets: datagrams over UDP, anti-entropy streams over TCP
/// (length-framed), timers on the event loop. Everything the instance touches is confined to
/// one event loop, so the state machine needs no locks.
///
/// Bad input never reaches the instance: a datagram that does not decode is dropped and
/// counted; a stream frame that does not decode, or is too large, closes that one connection.
public final class GossipShell: @unchecked Sendable {
    public let loop: EventLoop
    private var instance: GossipInstance
    private let epoch = NIODeadline.now()
    private var udp: Channel?
    private var tcp: Channel?
    private var conversations: [UInt64: Channel] = [:]
    private var nextConversation: UInt64 = 1
    private var counters = ShellCounters()
    private var pairKeys = PairKeys()
    private let maxDatagram: Int
    /// What the TCP listener admits, and the bytes half-received frames may hold in all (set
    /// before `start`; the composition root shares the node's descriptor reserve with them).
    public var admission = Admission(listener: "gossip-tcp", limits: NodeListenerLimits.standard.gossipStream, budget: nil)
    public var frameBudget = ByteBudget(capacity: NodeListenerLimits.standard.gossipFrameBytes)
    /// Where outgoing streams are bound (the listening address when specific), else nil.
    private var streamSource: SocketAddress?
    /// Called on the event loop for every table change.
    public var onEvent: (@Sendable (MembershipEvent) -> Void)?

    public init(instance: GossipInstance, loop: EventLoop) {
        self.instance = instance
        self.loop = loop
        self.maxDatagram = instance.config.maxPacketSize
    }

    /// Now, on this shell's monotonic clock.
    public var now: Instant { Instant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds - epoch.uptimeNanoseconds)) }

    /// Binds UDP and TCP on `address` and starts the instance, joining `seeds`.
    public func start(bind address: SocketAddress, seeds: [PeerAddress]) async throws {
        // Outgoing streams leave from the bound address when it is a specific one: peers count
        // connections per source address (ListenerLimits), and on a multi-homed host (or
        // 127.0.0.x in tests) the kernel would otherwise pick one source for every node.
        if let ip = address.ipAddress, ip != "0.0.0.0", ip != "::" {
            streamSource = try? SocketAddress(ipAddress: ip, port: 0)
        }
        // No SO_REUSEADDR on UDP: it would let a second node bind the same address silently.
        let udp = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.pipeline.addHandler(DatagramHandler(shell: self))
            }
            .bind(to: address).get()
        let tcp = try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard self.admission.admit(channel) else { return channel.eventLoop.makeSucceededVoidFuture() }
                return self.configureStream(channel, conversation: nil)
            }
            .bind(to: address).get()
        try await loop.submit {
            self.udp = udp
            self.tcp = tcp
            self.run(self.instance.start(seeds: seeds, now: self.now))
        }.get()
    }

    /// Runs `body` on the instance, on the event loop, and carries out its directives.
    public func act<T: Sendable>(_ body: @escaping @Sendable (inout GossipInstance, Instant) throws -> (T, [Directive]))
        async throws -> T
    {
        try await loop.submit {
            let (result, directives) = try body(&self.instance, self.now)
            self.run(directives)
            return result
        }.get()
    }

    /// `act` for callers already on the event loop (discovery's events are handed to it).
    public func actOnLoop(_ body: (inout GossipInstance, Instant) -> [Directive]) {
        loop.preconditionInEventLoop()
        run(body(&instance, now))
    }

    /// Reads the instance (a copy: cheap, the table is persistent).
    public func snapshot() async throws -> (GossipInstance, ShellCounters) {
        try await loop.submit { (self.instance, self.counters) }.get()
    }

    public func close() async {
        let channels: [Channel] = (try? await loop.submit { [self.udp, self.tcp].compactMap { $0 } + Array(self.conversations.values) }.get()) ?? []
        for c in channels { try? await c.close() }
    }

    // MARK: On the event loop

    func deliver(_ input: GossipInput) {
        run(instance.handle(input, now: now))
    }

    func dropped(_ reason: String) { counters.dropped[reason, default: 0] += 1 }

    func run(_ directives: [Directive]) {
        for d in directives {
            switch d {
            case .send(let m, let to, let peer):
                guard let udp, let address = try? to.socketAddress() else { continue }
                guard let key = pairKeys.key(for: peer, in: instance) else {
                    dropped("no-pair-key")
                    continue
                }
                let bytes = GossipCodec.encodeDatagram(m, sender: instance.id, tag: key.tag)
                counters.datagramsOut += 1
                counters.bytesOut += bytes.count
                var buffer = udp.allocator.buffer(capacity: bytes.count)
                buffer.writeBytes(bytes)
                udp.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
            case .stream(let m, let to, let conversation):
                sendStream(m, to: to, conversation: conversation)
            case .schedule(let t, let at):
                let deadline = epoch + .nanoseconds(at.nanoseconds)
                loop.scheduleTask(deadline: deadline) { self.deliver(.timer(t)) }
            case .event(let e):
                onEvent?(e)
            }
        }
    }

    /// A datagram reaches the instance only if it decodes, names a member of the table as its
    /// sender, and carries that member's tag (a host that is not a member cannot make one).
    func received(datagram bytes: [UInt8], from address: SocketAddress) {
        counters.datagramsIn += 1
        counters.bytesIn += bytes.count
        guard let from = PeerAddress(address) else { return dropped("bad-address") }
        let sealed: SealedDatagram
        do {
            sealed = try GossipCodec.decodeDatagram(bytes, maxSize: maxDatagram)
        } catch {
            return dropped(error.reason.rawValue)
        }
        guard let key = pairKeys.key(for: sealed.sender, in: instance) else { return dropped("unknown-sender") }
        guard key.isValid(tag: sealed.tag, for: sealed.authenticated) else { return dropped("bad-tag") }
        deliver(.datagram(sealed.message, from: from, sender: sealed.sender))
    }

    private func sendStream(_ m: GossipMessage, to: PeerAddress, conversation: UInt64) {
        let bytes = GossipCodec.encode(m)
        counters.streamMessagesOut += 1
        counters.bytesOut += bytes.count
        if conversation != 0, let channel = conversations[conversation] {
            var buffer = channel.allocator.buffer(capacity: bytes.count + 4)
            buffer.writeFrame(bytes)
            channel.writeAndFlush(buffer, promise: nil)
            return
        }
        guard let address = try? to.socketAddress() else { return }
        let id = nextConversation
        nextConversation += 1
        var bootstrap = ClientBootstrap(group: loop).connectTimeout(.seconds(3))
        if let streamSource, (streamSource.protocol == address.protocol) { bootstrap = bootstrap.bind(to: streamSource) }
        bootstrap
            .channelInitializer { channel in self.configureStream(channel, conversation: id) }
            .connect(to: address)
            .whenSuccess { channel in
                var buffer = channel.allocator.buffer(capacity: bytes.count + 4)
                buffer.writeFrame(bytes)
                channel.writeAndFlush(buffer, promise: nil)
            }
    }

    private func configureStream(_ channel: Channel, conversation: UInt64?) -> EventLoopFuture<Void> {
        let id: UInt64
        if let conversation { id = conversation } else {
            id = nextConversation
            nextConversation += 1
        }
        conversations[id] = channel
        channel.closeFuture.whenComplete { _ in self.conversations[id] = nil }
        // Anti-entropy exchanges take a few round trips; close connections idle for 10 s.
        do {
            try channel.pipeline.syncOperations.addHandlers([
                IdleStateHandler(allTimeout: .seconds(10)),
                ByteToMessageHandler(FrameDecoder(maxFrame: GossipCodec.maxStreamMessage, budget: frameBudget)),
                StreamHandler(shell: self, conversation: id),
            ])
            return channel.eventLoop.makeSucceededVoidFuture()
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func received(frame bytes: [UInt8], conversation: UInt64, from address: SocketAddress?) throws {
        counters.streamMessagesIn += 1
        counters.bytesIn += bytes.count
        let m = try GossipCodec.decodeStream(bytes)
        // The peer's TCP source port is ephemeral: replies go back on the conversation.
        let from = address.flatMap(PeerAddress.init) ?? PeerAddress(host: .ipv4(0, 0, 0, 0), port: 0)
        deliver(.stream(m, from: from, conversation: conversation))
    }
}

final class DatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let shell: GossipShell

    init(shell: GossipShell) { self.shell = shell }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        let bytes = envelope.data.readBytes(length: envelope.data.readableBytes) ?? []
        shell.received(datagram: bytes, from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP port unreachable and the like: a peer went away. Nothing to do; probes notice.
    }
}

final class StreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = [UInt8]
    let shell: GossipShell
    let conversation: UInt64

    init(shell: GossipShell, conversation: UInt64) {
        self.shell = shell
        self.conversation = conversation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try shell.received(frame: unwrapInboundIn(data), conversation: conversation, from: context.remoteAddress)
            // A whole frame that decodes: no longer a pending stranger (only accepted ones have a deadline).
            Admission.passed(context.channel)
        } catch let e as WireError {
            shell.dropped(e.reason.rawValue)
            context.close(promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is FrameTooLarge { shell.dropped("oversized") }
        if error is FrameBudgetExhausted { shell.dropped("frame-budget") }
        context.close(promise: nil)
    }
}
