import HearsayModel
import NIOCore
import NIOPosix
import XMPPWire

/// What the link-local XMPP endpoint needs from the node, called on the endpoint's loop.
public protocol XMPPSessionDelegate: AnyObject, Sendable {
    /// The instance names ("bob@host") resolved (DNS-SD) to `address`. A connection from an
    /// address with none is refused (TCP closed, no stream end): finch does the same.
    func instances(at address: HostAddress) -> [String]
    /// A chat message from `instance` (the stream's peer, not the stanza's `from`). XEP-0174 is
    /// neither encrypted nor authenticated: store it marked so.
    func received(text: String, id: String?, from instance: String)
    /// The message was written to the socket. XEP-0174 has no delivery receipts (and finch sends
    /// none), so this is as far as the sender can know: the node treats "written, and the stream
    /// still open after it" as delivered.
    func sent(id: String, to instance: String)
    /// The message was not written (no stream could be opened, the stream closed before it
    /// opened, or the write failed): the node's outbox keeps it for a later try.
    func notSent(id: String, to instance: String, reason: String)
    func event(_ event: XMPPEvent)
}

/// What happened on the link-local XMPP endpoint, for logs and counters.
public enum XMPPEvent: Hashable, Sendable {
    /// Both stream headers exchanged with `instance`; `incoming`: the peer dialed.
    case opened(instance: String, incoming: Bool)
    /// A stream ended (`instance` nil if it never learned who the peer was).
    case closed(instance: String?, reason: StreamCloseReason)
    /// A stream was replaced by a newer one with the same instance (the old one is refused).
    case replaced(instance: String)
    /// An incoming connection refused before any XML: nobody known at that address.
    case refused(address: String, reason: String)
    /// A dial failed (no TCP connection).
    case dialFailed(instance: String, reason: String)
}

/// The link-local XMPP (XEP-0174) realm on the network: a dual-stack TCP listener, dials to
/// buddies' SRV ports, one `XMPPWire.StreamMachine` per TCP connection, one stream kept per
/// instance name. Everything runs on one event loop (the machines own their Expat parsers).
///
/// See Docs/protocols/xmpp-link-local.md, "On the network: RealmXMPP".
public final class XMPPEndpoint: @unchecked Sendable {
    /// Our instance name, exactly as published ("ann@desk"): the `from` of our stream headers.
    public let localName: String
    public let loop: EventLoop
    public let configuration: StreamConfiguration
    weak var delegate: XMPPSessionDelegate?

    // On the loop:
    var listeners: [Channel] = []
    /// The usable stream (opening on a dial, or open) per instance, keyed by `key(_:)`.
    var streams: [String: XMPPStreamHandler] = [:]
    /// Every live connection (for `close`), including refused and ending ones.
    var handlers: [ObjectIdentifier: XMPPStreamHandler] = [:]
    /// Instances being dialed (TCP not through yet).
    var dialing: Set<String> = []
    /// Messages for an instance whose stream is not open yet, in order.
    var waiting: [String: [(text: String, id: String)]] = [:]
    /// The instance name as the node spelled it, per key of `waiting`.
    var waitingNames: [String: String] = [:]
    var closing = false

    public init(
        localName: String, loop: EventLoop, delegate: XMPPSessionDelegate,
        configuration: StreamConfiguration = StreamConfiguration()
    ) {
        self.localName = localName
        self.loop = loop
        self.delegate = delegate
        self.configuration = configuration
    }

    /// Instance names compare as DNS names: ASCII letters case-insensitively.
    static func key(_ name: String) -> String {
        String(decoding: name.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    static func millis() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    /// Listens on `host` (default `::`, dual-stack: IPv4 peers arrive as IPv4-mapped addresses,
    /// reported to the delegate as plain IPv4) at `port` (0: any); returns the port bound. If
    /// `::` cannot be bound (no IPv6), listens on 0.0.0.0.
    public func listen(host: String = "::", port: Int) async throws -> Int {
        do {
            return try await bindListener(host: host, port: port)
        } catch where host == "::" {
            return try await bindListener(host: "0.0.0.0", port: port)
        }
    }

    func bindListener(host: String, port: Int) async throws -> Int {
        let address = try SocketAddress(ipAddress: host, port: port)
        var bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if case .v6 = address {
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 0)
        }
        let channel = try await bootstrap
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try self.accepted(ch) }
            }
            .bind(to: address).get()
        try await loop.submit { self.listeners.append(channel) }.get()
        return channel.localAddress?.port ?? 0
    }

    /// Sends `text` to `instance` at `address` (its SRV port): over the open stream to that
    /// instance, else after dialing (5 s connect timeout) from `localAddress` when given and of
    /// the same family (finch accepts a connection only from an address it resolved for us).
    /// The outcome comes back as `sent` or `notSent` with `id`.
    public func send(
        _ text: String, id: String, to instance: String, at address: PeerAddress, from localAddress: HostAddress? = nil
    ) {
        loop.execute {
            guard !self.closing else {
                self.delegate?.notSent(id: id, to: instance, reason: "the endpoint is closed")
                return
            }
            let k = Self.key(instance)
            if let s = self.streams[k], s.machine.isOpen {
                s.sendMessage(text, id: id)
                return
            }
            self.waiting[k, default: []].append((text, id))
            self.waitingNames[k] = instance
            guard self.streams[k] == nil, !self.dialing.contains(k) else { return }
            self.dial(instance, at: address, from: localAddress)
        }
    }

    /// On the loop: whether a stream with `instance` is kept, being dialed, or has messages waiting
    /// for one (the node's outbox timer asks, from the same loop).
    public func hasStreamOnLoop(_ instance: String) -> Bool {
        loop.preconditionInEventLoop()
        let k = Self.key(instance)
        return streams[k] != nil || dialing.contains(k) || waiting[k] != nil
    }

    /// The instances with an open stream now (for tests and `hearsay doctor`).
    public func openStreams() async -> Set<String> {
        (try? await loop.submit {
            Set(self.streams.values.compactMap { $0.machine.isOpen ? $0.machine.peer : nil })
        }.get()) ?? []
    }

    /// Whether a stream to `instance` is open now.
    public func isOpen(_ instance: String) async -> Bool {
        (try? await loop.submit { self.streams[Self.key(instance)]?.machine.isOpen == true }.get()) ?? false
    }

    /// Stops listening and closes every stream: a stream end on quiet open streams, TCP closed on
    /// the others; what waited to be sent comes back as `notSent`.
    public func close() async {
        let channels: [Channel] =
            (try? await loop.submit { () -> [Channel] in
                self.closing = true
                let ls = self.listeners
                self.listeners = []
                for h in Array(self.handlers.values) {
                    h.run(h.machine.close(nowMillis: Self.millis()))
                    h.channel.close(promise: nil)
                }
                for (k, queued) in self.waiting {
                    let name = self.waitingNames[k] ?? k
                    for m in queued { self.delegate?.notSent(id: m.id, to: name, reason: "the endpoint closed") }
                }
                self.waiting = [:]
                self.waitingNames = [:]
                return ls
            }.get()) ?? []
        for c in channels { try? await c.close() }
    }

    // MARK: On the loop

    /// An incoming connection: a receiver machine for the instances known at its address, or
    /// refused (TCP closed, nothing written) if there are none.
    func accepted(_ ch: Channel) throws {
        let host = ch.remoteAddress.flatMap(Self.hostAddress)
        let candidates = host.map { delegate?.instances(at: $0) ?? [] } ?? []
        guard !closing, !candidates.isEmpty else {
            delegate?.event(.refused(address: host?.description ?? "?", reason: closing ? "closing" : "no instance known at this address"))
            ch.close(promise: nil)
            return
        }
        let machine = StreamMachine(
            localName: localName, role: .receiver(candidates: candidates), configuration: configuration,
            nowMillis: Self.millis())
        let handler = XMPPStreamHandler(endpoint: self, channel: ch, machine: machine, incoming: true)
        try ch.pipeline.syncOperations.addHandler(handler)
    }

    func dial(_ instance: String, at address: PeerAddress, from localAddress: HostAddress?) {
        let k = Self.key(instance)
        let target: SocketAddress
        do { target = try SocketAddress(ipAddress: address.host.description, port: Int(address.port)) } catch {
            dialFailed(instance, reason: "bad address \(address): \(error)")
            return
        }
        dialing.insert(k)
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    let machine = StreamMachine(
                        localName: self.localName, role: .initiator(peer: instance),
                        configuration: self.configuration, nowMillis: Self.millis())
                    let handler = XMPPStreamHandler(endpoint: self, channel: ch, machine: machine, incoming: false)
                    try ch.pipeline.syncOperations.addHandler(handler)
                }
            }
        if let local = localAddress, !local.isUnspecified, local.isIPv4 == address.host.isIPv4,
            let bind = try? SocketAddress(ipAddress: local.description, port: 0)
        {
            bootstrap = bootstrap.bind(to: bind)
        }
        bootstrap.connect(to: target).whenComplete { result in
            self.dialing.remove(k)
            if case .failure(let error) = result {
                self.dialFailed(instance, reason: "cannot connect to \(address): \(error)")
            }
        }
    }

    func dialFailed(_ instance: String, reason: String) {
        let k = Self.key(instance)
        delegate?.event(.dialFailed(instance: instance, reason: reason))
        guard streams[k] == nil else { return }  // a stream came the other way meanwhile
        dropWaiting(instance, reason: reason)
    }

    func dropWaiting(_ instance: String, reason: String) {
        waitingNames[Self.key(instance)] = nil
        for m in waiting.removeValue(forKey: Self.key(instance)) ?? [] {
            delegate?.notSent(id: m.id, to: instance, reason: reason)
        }
    }

    /// A dialed connection is through: it stands for its instance while it opens.
    func connected(_ handler: XMPPStreamHandler) {
        guard let peer = handler.machine.peer else { return }
        let k = Self.key(peer)
        if streams[k] == nil { streams[k] = handler }
    }

    /// Both headers exchanged on `handler`. One stream per instance: an incoming stream replaces
    /// the one kept (finch opens a new stream only when it has dropped its old one); a dial that
    /// opens while another stream is open is given up (refused: TCP closed, no stream end).
    /// Returns whether `handler` is kept.
    func opened(_ handler: XMPPStreamHandler, peer: String) -> Bool {
        let k = Self.key(peer)
        if let other = streams[k], other !== handler {
            if handler.incoming || !other.machine.isOpen {
                streams[k] = handler
                delegate?.event(.replaced(instance: peer))
                other.run(other.machine.refuse())
            } else {
                handler.run(handler.machine.refuse())
                return false
            }
        } else {
            streams[k] = handler
        }
        delegate?.event(.opened(instance: peer, incoming: handler.incoming))
        waitingNames[k] = nil
        for m in waiting.removeValue(forKey: k) ?? [] { handler.sendMessage(m.text, id: m.id) }
        return true
    }

    /// `handler` will carry no more messages (ending, closed).
    func retired(_ handler: XMPPStreamHandler) {
        guard let peer = handler.machine.peer else { return }
        let k = Self.key(peer)
        if streams[k] === handler { streams[k] = nil }
    }

    /// `handler`'s channel closed. What waited for its stream comes back as `notSent`, unless
    /// another stream or dial for the instance is on its way.
    func closed(_ handler: XMPPStreamHandler) {
        handlers[ObjectIdentifier(handler)] = nil
        retired(handler)
        guard let peer = handler.machine.peer else { return }
        let k = Self.key(peer)
        if streams[k] == nil, !dialing.contains(k) { dropWaiting(peer, reason: "the stream closed before it opened") }
    }

    /// The address of a TCP peer; IPv4-mapped IPv6 (from the dual-stack listener) as IPv4.
    static func hostAddress(_ a: SocketAddress) -> HostAddress? {
        switch a {
        case .v4(let v4):
            return HostAddress(bytes: withUnsafeBytes(of: v4.address.sin_addr) { Array($0) })
        case .v6(let v6):
            let b = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff {
                return HostAddress(bytes: Array(b[12..<16]))
            }
            return HostAddress(bytes: b)
        default:
            return nil
        }
    }
}

/// One TCP connection: feeds its `StreamMachine` and carries out its directives.
final class XMPPStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    unowned let endpoint: XMPPEndpoint
    let channel: Channel
    let machine: StreamMachine
    /// The peer dialed us.
    let incoming: Bool
    var timer: Scheduled<Void>?
    var timerDeadline: Int64?
    var reportedClose = false

    init(endpoint: XMPPEndpoint, channel: Channel, machine: StreamMachine, incoming: Bool) {
        self.endpoint = endpoint
        self.channel = channel
        self.machine = machine
        self.incoming = incoming
    }

    func channelActive(context: ChannelHandlerContext) {
        endpoint.handlers[ObjectIdentifier(self)] = self
        if !incoming { endpoint.connected(self) }
        run(machine.start())
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let directives = buffer.withUnsafeReadableBytes { machine.received($0, nowMillis: XMPPEndpoint.millis()) }
        run(directives)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        run(machine.transportClosed(nowMillis: XMPPEndpoint.millis()))
        if !reportedClose {
            reportedClose = true
            endpoint.delegate?.event(.closed(instance: machine.peer, reason: .transportClosed))
        }
        endpoint.closed(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // TCP reset and the like: closing runs `transportClosed`.
        context.close(promise: nil)
    }

    /// Sends one message on the open stream; `sent` once written, `notSent` otherwise.
    func sendMessage(_ text: String, id: String) {
        run(machine.send(MessageStanza(id: id, body: text), nowMillis: XMPPEndpoint.millis()), messageID: id)
    }

    /// Carries out `directives` in order. A `write` among them is message `messageID`'s.
    /// Then (re)schedules the machine's timer: also after no directive (a receiver's `start`).
    func run(_ directives: [StreamDirective], messageID: String? = nil) {
        let delegate = endpoint.delegate
        var wrote = false
        defer {
            if wrote { channel.flush() }
            rescheduleTimer()
        }
        for d in directives {
            switch d {
            case .write(let bytes):
                let buffer = channel.allocator.buffer(bytes: bytes)
                if let messageID, let peer = machine.peer {
                    let promise = channel.eventLoop.makePromise(of: Void.self)
                    promise.futureResult.whenComplete { result in
                        switch result {
                        case .success: delegate?.sent(id: messageID, to: peer)
                        case .failure(let error): delegate?.notSent(id: messageID, to: peer, reason: "write failed: \(error)")
                        }
                    }
                    channel.write(buffer, promise: promise)
                } else {
                    channel.write(buffer, promise: nil)
                }
                wrote = true
            case .opened(let peer):
                // The machine knows the peer here (dialed, or a candidate matched).
                guard let peer else { continue }
                if wrote {
                    channel.flush()  // our header before any message
                    wrote = false
                }
                if !endpoint.opened(self, peer: peer) { return }
            case .deliver(let stanza):
                guard let peer = machine.peer else { continue }
                delegate?.received(text: stanza.body, id: stanza.id, from: peer)
            case .notSent(let stanza):
                guard let id = stanza.id, let peer = machine.peer else { continue }
                delegate?.notSent(id: id, to: peer, reason: "the stream is not open")
            case .sendStreamEnd:
                endpoint.retired(self)
                channel.write(channel.allocator.buffer(bytes: StreamHeader.end), promise: nil)
                wrote = true
            case .closeTransport(let reason):
                endpoint.retired(self)
                if wrote {
                    channel.flush()
                    wrote = false
                }
                if !reportedClose {
                    reportedClose = true
                    delegate?.event(.closed(instance: machine.peer, reason: reason))
                }
                channel.close(promise: nil)
            }
        }
    }

    /// Schedules `tick` at the machine's next deadline (once; a later call moves it).
    func rescheduleTimer() {
        let deadline = machine.nextDeadlineMillis
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        guard let deadline else {
            timer = nil
            return
        }
        let delay = max(0, deadline - XMPPEndpoint.millis())
        timer = channel.eventLoop.scheduleTask(in: .milliseconds(delay)) { [weak self] in
            guard let self else { return }
            self.timerDeadline = nil
            self.timer = nil
            self.run(self.machine.tick(nowMillis: XMPPEndpoint.millis()))
            self.rescheduleTimer()
        }
    }
}
