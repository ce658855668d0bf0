import HearsayModel
import ListenerLimits
import NIOCore
import NIOPosix
import XMPPWire

/// What the link-local XMPP endpoint needs from the node, called on the endpoint's loop.
///
/// The endpoint may speak under several local names (`XMPPEndpoint.localNames`: the node's own
/// instance and the users it stands in for). Each callback has a form with the local name
/// (`to local:`, `from local:`, `local:`); by default it forwards to the form without it, so a
/// delegate with one name implements only those.
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

    /// `received(text:id:from:)` on the stream where we are `local` (the peer's header `to`).
    func received(text: String, id: String?, from instance: String, to local: String)
    /// `sent(id:to:)` on the stream where we are `local`.
    func sent(id: String, to instance: String, from local: String)
    /// `notSent(id:to:reason:)` for a message to be sent as `local`.
    func notSent(id: String, to instance: String, from local: String, reason: String)
    /// `event(_:)` on a stream where we are `local` (`nil`: not known, as for a connection
    /// refused before any XML).
    func event(_ event: XMPPEvent, local: String?)
}

extension XMPPSessionDelegate {
    public func received(text: String, id: String?, from instance: String, to local: String) {
        received(text: text, id: id, from: instance)
    }
    public func sent(id: String, to instance: String, from local: String) { sent(id: id, to: instance) }
    public func notSent(id: String, to instance: String, from local: String, reason: String) {
        notSent(id: id, to: instance, reason: reason)
    }
    public func event(_ event: XMPPEvent, local: String?) { self.event(event) }
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
/// (local name, remote instance) pair. Everything runs on one event loop (the machines own their
/// Expat parsers).
///
/// One endpoint can speak under several local names on one port (`localNames`): the node's own
/// instance (`localName`, the primary) and the remote users it stands in for (ADR 0010). An
/// incoming stream is answered as the name its header `to` names; `send(...as:)` picks the
/// name a message goes out under.
///
/// See Docs/protocols/xmpp-link-local.md, "On the network: RealmXMPP".
public final class XMPPEndpoint: @unchecked Sendable {
    /// Our primary instance name, exactly as published ("ann@desk"): the `from` of our stream
    /// headers unless another local name is chosen. Always the first of `localNames`.
    public let localName: String
    public let loop: EventLoop
    public let configuration: StreamConfiguration
    weak var delegate: XMPPSessionDelegate?

    /// A stream's identity: (local name, remote instance), both as `key(_:)`.
    struct Pair: Hashable {
        let local: String
        let remote: String
        init(_ local: String, _ remote: String) {
            self.local = XMPPEndpoint.key(local)
            self.remote = XMPPEndpoint.key(remote)
        }
    }

    // On the loop:
    /// The names we answer to, as spelled when added; the first is `localName`.
    public private(set) var localNames: [String]
    var listeners: [Channel] = []
    /// The usable stream (opening on a dial, or open) per (local, remote) pair.
    var streams: [Pair: XMPPStreamHandler] = [:]
    /// Every live connection (for `close`), including refused and ending ones.
    var handlers: [ObjectIdentifier: XMPPStreamHandler] = [:]
    /// Pairs being dialed (TCP not through yet).
    var dialing: Set<Pair> = []
    /// Messages for a pair whose stream is not open yet, in order.
    var waiting: [Pair: [(text: String, id: String)]] = [:]
    /// The names as the node spelled them, per key of `waiting`.
    var waitingNames: [Pair: (local: String, remote: String)] = [:]
    var closing = false
    /// What the listener admits (set before `listen`): caps, the header deadline, the reserve.
    public var admission = Admission(listener: "xmpp", limits: NodeListenerLimits.standard.xmpp, budget: nil)

    public init(
        localName: String, loop: EventLoop, delegate: XMPPSessionDelegate,
        configuration: StreamConfiguration = StreamConfiguration()
    ) {
        self.localName = localName
        self.localNames = [localName]
        self.loop = loop
        self.delegate = delegate
        self.configuration = configuration
    }

    /// Instance names compare as DNS names: ASCII letters case-insensitively.
    static func key(_ name: String) -> String {
        String(decoding: name.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    static func millis() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    /// Runs `body` on the loop: at once when called there, else later.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) -> EventLoopFuture<T> {
        loop.inEventLoop ? loop.makeSucceededFuture(body()) : loop.submit(body)
    }

    /// Answers to `name` too (a user this node stands in for): incoming streams whose header `to`
    /// names it are accepted, and `send(...as: name)` speaks as it. Returns whether it was new.
    @discardableResult
    public func addLocalName(_ name: String) -> EventLoopFuture<Bool> {
        onLoop {
            guard self.localNameOnLoop(name) == nil else { return false }
            self.localNames.append(name)
            return true
        }
    }

    /// Stops answering to `name`: new streams to it are refused (TCP closed, no stream end), its
    /// streams are closed (a stream end only if quiet), messages waiting to go as it come back as
    /// `notSent`. The primary name (`localName`) cannot be removed. Returns whether it was there.
    @discardableResult
    public func removeLocalName(_ name: String) -> EventLoopFuture<Bool> {
        onLoop {
            let k = Self.key(name)
            guard k != Self.key(self.localName), let i = self.localNames.firstIndex(where: { Self.key($0) == k }) else {
                return false
            }
            self.localNames.remove(at: i)
            for (pair, h) in self.streams where pair.local == k {
                self.streams[pair] = nil
                h.run(h.machine.close(nowMillis: Self.millis()))
            }
            for pair in self.waiting.keys where pair.local == k {
                self.dropWaiting(pair, reason: "no longer a local name")
            }
            return true
        }
    }

    /// On the loop: our local name spelled as added that compares equal to `name`, if any.
    func localNameOnLoop(_ name: String) -> String? {
        let k = Self.key(name)
        return localNames.first { Self.key($0) == k }
    }

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
                guard self.admission.admit(ch) else { return ch.eventLoop.makeSucceededVoidFuture() }
                return ch.eventLoop.makeCompletedFuture { try self.accepted(ch) }
            }
            .bind(to: address).get()
        try await loop.submit { self.listeners.append(channel) }.get()
        return channel.localAddress?.port ?? 0
    }

    /// Sends `text` to `instance` at `address` (its SRV port) as `local` (one of `localNames`;
    /// `nil`: `localName`): over the open stream of that pair, else after dialing (5 s connect
    /// timeout) from `localAddress` when given and of the same family (finch accepts a connection
    /// only from an address it resolved for us). The outcome comes back as `sent` or `notSent`
    /// with `id` (`notSent` at once if `local` is not one of our names).
    public func send(
        _ text: String, id: String, to instance: String, at address: PeerAddress, from localAddress: HostAddress? = nil,
        as local: String? = nil
    ) {
        loop.execute {
            let asked = local ?? self.localName
            guard !self.closing else {
                self.notSent(id: id, to: instance, from: asked, reason: "the endpoint is closed")
                return
            }
            guard let me = self.localNameOnLoop(asked) else {
                self.notSent(id: id, to: instance, from: asked, reason: "\(asked) is not a local name")
                return
            }
            let k = Pair(me, instance)
            if let s = self.streams[k], s.machine.isOpen {
                s.sendMessage(text, id: id)
                return
            }
            self.waiting[k, default: []].append((text, id))
            self.waitingNames[k] = (me, instance)
            guard self.streams[k] == nil, !self.dialing.contains(k) else { return }
            self.dial(instance, as: me, at: address, from: localAddress)
        }
    }

    /// On the loop: whether a stream with `instance` (as `local`, `nil`: `localName`) is kept,
    /// being dialed, or has messages waiting for one (the node's outbox timer asks, from the
    /// same loop).
    public func hasStreamOnLoop(_ instance: String, as local: String? = nil) -> Bool {
        loop.preconditionInEventLoop()
        let k = Pair(local ?? localName, instance)
        return streams[k] != nil || dialing.contains(k) || waiting[k] != nil
    }

    /// The instances with an open stream as `localName` now (for tests and `hearsay doctor`).
    public func openStreams() async -> Set<String> {
        let primary = Self.key(localName)
        return (try? await loop.submit {
            Set(self.streams.compactMap { k, s in
                k.local == primary && s.machine.isOpen ? s.machine.peer : nil
            })
        }.get()) ?? []
    }

    /// Every open stream now, as `[local, remote]` (as the machines spell them).
    public func openStreamPairs() async -> Set<[String]> {
        (try? await loop.submit {
            Set(self.streams.values.compactMap { s -> [String]? in
                guard s.machine.isOpen, let local = s.machine.local, let peer = s.machine.peer else { return nil }
                return [local, peer]
            })
        }.get()) ?? []
    }

    /// The local names now (`localNames`, from any thread).
    public func currentLocalNames() async -> [String] {
        (try? await loop.submit { self.localNames }.get()) ?? [localName]
    }

    /// Whether a stream to `instance` as `local` (`nil`: `localName`) is open now.
    public func isOpen(_ instance: String, as local: String? = nil) async -> Bool {
        let k = Pair(local ?? localName, instance)
        return (try? await loop.submit { self.streams[k]?.machine.isOpen == true }.get()) ?? false
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
                for k in Array(self.waiting.keys) { self.dropWaiting(k, reason: "the endpoint closed") }
                return ls
            }.get()) ?? []
        for c in channels { try? await c.close() }
    }

    // MARK: On the loop

    func notSent(id: String, to instance: String, from local: String, reason: String) {
        delegate?.notSent(id: id, to: instance, from: local, reason: reason)
    }

    func report(_ event: XMPPEvent, local: String?) { delegate?.event(event, local: local) }

    /// An incoming connection: a receiver machine for the instances known at its address (and
    /// our local names, one of which its header's `to` must name), or refused (TCP closed,
    /// nothing written) if there are none.
    func accepted(_ ch: Channel) throws {
        let host = ch.remoteAddress.flatMap(Self.hostAddress)
        let candidates = host.map { delegate?.instances(at: $0) ?? [] } ?? []
        guard !closing, !candidates.isEmpty else {
            report(
                .refused(address: host?.description ?? "?", reason: closing ? "closing" : "no instance known at this address"),
                local: nil)
            ch.close(promise: nil)
            return
        }
        let machine = StreamMachine(
            localNames: localNames, role: .receiver(candidates: candidates), configuration: configuration,
            nowMillis: Self.millis())
        let handler = XMPPStreamHandler(endpoint: self, channel: ch, machine: machine, incoming: true)
        try ch.pipeline.syncOperations.addHandler(handler)
    }

    func dial(_ instance: String, as local: String, at address: PeerAddress, from localAddress: HostAddress?) {
        let k = Pair(local, instance)
        let target: SocketAddress
        do { target = try SocketAddress(ipAddress: address.host.description, port: Int(address.port)) } catch {
            dialFailed(k, reason: "bad address \(address): \(error)")
            return
        }
        dialing.insert(k)
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    let machine = StreamMachine(
                        localNames: [local], role: .initiator(peer: instance),
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
                self.dialFailed(k, reason: "cannot connect to \(address): \(error)")
            }
        }
    }

    func dialFailed(_ k: Pair, reason: String) {
        let names = waitingNames[k] ?? (k.local, k.remote)
        report(.dialFailed(instance: names.remote, reason: reason), local: names.local)
        guard streams[k] == nil else { return }  // a stream came the other way meanwhile
        dropWaiting(k, reason: reason)
    }

    func dropWaiting(_ k: Pair, reason: String) {
        let names = waitingNames.removeValue(forKey: k) ?? (k.local, k.remote)
        for m in waiting.removeValue(forKey: k) ?? [] {
            notSent(id: m.id, to: names.remote, from: names.local, reason: reason)
        }
    }

    /// The pair `handler` stands for, once its machine knows both names.
    static func pair(_ handler: XMPPStreamHandler) -> Pair? {
        guard let local = handler.machine.local, let peer = handler.machine.peer else { return nil }
        return Pair(local, peer)
    }

    /// A dialed connection is through: it stands for its pair while it opens.
    func connected(_ handler: XMPPStreamHandler) {
        guard let k = Self.pair(handler) else { return }
        if streams[k] == nil { streams[k] = handler }
    }

    /// Both headers exchanged on `handler`. One stream per (local, remote) pair: an incoming
    /// stream replaces the one kept (finch opens a new stream only when it has dropped its old
    /// one); a dial that opens while another stream is open is given up (refused: TCP closed, no
    /// stream end). A stream whose local name was removed meanwhile is refused. Returns whether
    /// `handler` is kept.
    func opened(_ handler: XMPPStreamHandler, peer: String) -> Bool {
        guard let local = handler.machine.local, localNameOnLoop(local) != nil else {
            handler.run(handler.machine.refuse())
            return false
        }
        let k = Pair(local, peer)
        if let other = streams[k], other !== handler {
            if handler.incoming || !other.machine.isOpen {
                streams[k] = handler
                report(.replaced(instance: peer), local: local)
                other.run(other.machine.refuse())
            } else {
                handler.run(handler.machine.refuse())
                return false
            }
        } else {
            streams[k] = handler
        }
        report(.opened(instance: peer, incoming: handler.incoming), local: local)
        if handler.incoming { Admission.passed(handler.channel) }
        waitingNames[k] = nil
        for m in waiting.removeValue(forKey: k) ?? [] { handler.sendMessage(m.text, id: m.id) }
        return true
    }

    /// `handler` will carry no more messages (ending, closed).
    func retired(_ handler: XMPPStreamHandler) {
        guard let k = Self.pair(handler) else { return }
        if streams[k] === handler { streams[k] = nil }
    }

    /// `handler`'s channel closed. What waited for its stream comes back as `notSent`, unless
    /// another stream or dial for the pair is on its way.
    func closed(_ handler: XMPPStreamHandler) {
        handlers[ObjectIdentifier(handler)] = nil
        retired(handler)
        guard let k = Self.pair(handler) else { return }
        if streams[k] == nil, !dialing.contains(k) { dropWaiting(k, reason: "the stream closed before it opened") }
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
            endpoint.report(.closed(instance: machine.peer, reason: .transportClosed), local: machine.local)
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
        let local = machine.local ?? endpoint.localName
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
                        case .success: delegate?.sent(id: messageID, to: peer, from: local)
                        case .failure(let error):
                            delegate?.notSent(id: messageID, to: peer, from: local, reason: "write failed: \(error)")
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
                delegate?.received(text: stanza.body, id: stanza.id, from: peer, to: local)
            case .notSent(let stanza):
                guard let id = stanza.id, let peer = machine.peer else { continue }
                delegate?.notSent(id: id, to: peer, from: local, reason: "the stream is not open")
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
                    endpoint.report(.closed(instance: machine.peer, reason: reason), local: machine.local)
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
