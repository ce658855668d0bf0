#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if Chat
import ChatStore
#endif
import Discovery
import Gossip
import Logging
import GossipNIO
import HearsayModel
import ListenerLimits
import NIOCore
import NIOPosix

/// Everything `hearsay node` needs to start.
public struct NodeOptions: Sendable {
    public var dataDirectory: String
    public var handle: String
    /// Where the gossip endpoint listens (UDP and TCP on the same port). With an unspecified
    /// address (0.0.0.0, the CLI's default) the node advertises its interfaces' addresses and
    /// follows their changes.
    public var bind: PeerAddress
    /// What others should use to reach it (NAT, containers); by default the bind address, or the
    /// interfaces' addresses when bound to every address.
    public var advertise: PeerAddress?
    /// LAN discovery. Off unless asked for (the CLI asks for `auto`).
    public var mdns: MDNSMode = .off
    /// The interfaces whose addresses are advertised and on which mDNS publishes and listens.
    public var interfaces = InterfaceFilter()
    /// Seeds, `host:port`; names are resolved at start.
    public var join: [String]
    public var gossip: GossipConfig
    public var controlPath: String?
    public var logLevel: Logger.Level = .info
    /// Where to serve `GET /metrics` for Prometheus; nil: not served.
    public var metricsAddress: PeerAddress?
    /// Chat: port, session policy, store durability, retries (issue 5).
    public var chat = ChatOptions()
    /// What every listener admits, and the descriptors kept for the control API and sessions.
    public var listeners = NodeListenerLimits.standard

    public init(dataDirectory: String, handle: String, bind: PeerAddress, advertise: PeerAddress? = nil,
                join: [String] = [], gossip: GossipConfig = .lan, controlPath: String? = nil) {
        self.dataDirectory = dataDirectory
        self.handle = handle
        self.bind = bind
        self.advertise = advertise
        self.join = join
        self.gossip = gossip
        self.controlPath = controlPath
    }

    public var control: String { controlPath ?? dataDirectory + "/control.sock" }
}

/// A running Hearsay node: identity, gossip on the network, control API.
public final class Node: @unchecked Sendable {
    public let options: NodeOptions
    public let identity: NodeIdentity
    let group: MultiThreadedEventLoopGroup
    public let shell: GossipShell
    let control: ControlServer
    var controlChannel: Channel?
    let metrics = NodeMetrics()
    let log: Logger
    /// The process's descriptors that network listeners may take (one budget for all of them).
    let descriptors: DescriptorBudget
    /// One per listener: gossip TCP, metrics, chat, link-local XMPP, control.
    let admissions: Admissions

    public init(options: NodeOptions) throws {
        self.options = options
        var log = Logger(label: "hearsay.node")
        log.logLevel = options.logLevel
        self.log = log
        let (identity, _) = try IdentityStore.loadOrCreate(in: options.dataDirectory)
        chmod(options.dataDirectory, 0o700)
        lock = try DataDirectoryLock(directory: options.dataDirectory)
        self.identity = identity
        let state = NodeState.load(from: options.dataDirectory)
        let advertised = options.advertise ?? options.bind
        var addresses = [advertised.host]
        if options.advertise == nil && options.bind.host.isUnspecified {
            addresses = Self.interfaceAddresses(options.interfaces)
            if addresses.isEmpty {
                log.warning("no network address to advertise yet (no interface up?): using 127.0.0.1 until one appears")
                addresses = [.ipv4(127, 0, 0, 1)]
            }
        }
        let entry = PresenceEntry(
            publicKey: identity.publicKey, handle: options.handle, addresses: addresses,
            gossipPort: advertised.port, chatPort: options.chat.enabled ? Self.chatPort(options) : 0,
            status: state.status.flatMap(PresenceStatus.init(name:)).flatMap { $0 == .offline ? nil : $0 } ?? .available,
            statusText: state.statusText ?? "",
            version: EntryVersion(incarnation: state.nextIncarnation(), sequence: 0))
        var seed: UInt64 = 0
        withUnsafeMutableBytes(of: &seed) { $0.copyBytes(from: (0..<8).map { _ in UInt8.random(in: 0...255) }) }
        let instance = try GossipInstance(config: options.gossip, identity: identity, entry: entry, seed: seed)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        shell = GossipShell(instance: instance, loop: group.next())
        descriptors = DescriptorBudget.forThisProcess(reserve: options.listeners.descriptorReserve)
        admissions = Admissions(options.listeners, descriptors: descriptors)
        shell.admission = admissions.gossipStream
        shell.frameBudget = ByteBudget(capacity: options.listeners.gossipFrameBytes)
        control = ControlServer(shell: shell, metrics: metrics, admission: admissions.control)
        firstState = NodeState(incarnation: entry.version.incarnation, peers: state.peers, status: entry.status.description,
                               statusText: entry.statusText)
        firstAddresses = addresses
    }

    let firstAddresses: [HostAddress]
    #if Chat
    /// The node's chat (nil with `--chat off`).
    public private(set) var chat: ChatService?
    #endif

    /// The chat port asked for: `--chat-port`, else the gossip port + 1 (7947 next to 7946).
    static func chatPort(_ options: NodeOptions) -> UInt16 {
        options.chat.port ?? ((options.advertise ?? options.bind).port &+ 1)
    }

    #if Chat
    /// Opens the store and listens for native sessions; the entry gets the port bound.
    func startChat() async throws {
        let path = options.dataDirectory + "/chat.sqlite"
        let store: ChatStore
        do { store = try ChatStore(path: path, durability: options.chat.durability == .power ? .power : .process) } catch {
            throw NodeError("\(error); move it aside to start with an empty history, or run with --chat off")
        }
        let chat = try ChatService(identity: identity, handle: options.handle, loop: shell.loop, store: store,
                                   options: options.chat, log: log,
                                   admissions: (native: admissions.chat, xmpp: admissions.xmpp))
        let port: UInt16
        do {
            port = try await chat.start(host: options.bind.host, port: options.chat.port ?? Self.chatPort(options))
        } catch {
            await chat.stop()
            throw NodeError("cannot listen on \(options.bind.host):\(Self.chatPort(options)) for chat (TCP): \(error); "
                            + "choose another --chat-port (the default is the gossip port + 1), or --chat off")
        }
        let control = self.control
        chat.controlSink = { e in control.broadcast(e) }
        chat.controlWatching = { control.hasEventWatchers }
        let shell = self.shell
        chat.introduce = { peer in shell.actOnLoop { inst, now in inst.introduce(to: peer, now: now) } }
        control.chat = chat
        self.chat = chat
        let addresses = firstAddresses
        try? await shell.loop.submit { chat.ownAddresses = addresses }.get()
        if (try? await shell.snapshot())?.0.me.entry.chatPort != port {
            _ = try? await shell.act { inst, t in ((), try inst.update(now: t) { $0.chatPort = port }) }
        }
        log.info("chat listening", metadata: ["port": "\(port)", "policy": "\(options.chat.policy)",
                                              "store": "\(path)", "durability": "\(options.chat.durability)"])
    }
    #endif

    var discovery: NodeDiscovery?
    var discoveryOff: String?

    /// What `hearsay doctor` asks: discovery's state, what it found, what the entry advertises.
    func discoveryReport() async -> DiscoveryReport {
        let advertised = (try? await shell.snapshot())?.0.me.entry.addresses.map(\.description) ?? []
        let base = DiscoveryReport(mode: options.mdns.rawValue, state: "off", detail: discoveryOff ?? "", instance: nil,
                                   bind: options.bind.description, advertised: advertised, peers: [:], ignored: [:])
        guard let d = discovery else { return base }
        return (try? await shell.loop.submit {
            var r = base
            r.state = d.state.name
            r.detail = d.state.detail
            r.instance = d.published
            r.peers = Dictionary(uniqueKeysWithValues: d.finder.peers.map { ($0.key.base32, $0.value.map(\.description)) })
            r.ignored = d.finder.stats.ignored
            return r
        }.get()) ?? base
    }
    var addressWatcher: Task<Void, Never>?

    /// The addresses to advertise when bound to every address (loopback and link-local left out).
    static func interfaceAddresses(_ filter: InterfaceFilter) -> [HostAddress] {
        LocalInterface.advertised((try? NodeDiscovery.localInterfaces()) ?? [], filter: filter)
    }

    /// Bound to every address: every 2 s, compares the interfaces' addresses with the entry's and
    /// gossips a new version of the entry when they differ (a new IP, an interface gone). mDNS
    /// re-announces by itself: avahi-daemon follows the host's addresses.
    func watchAddresses() {
        guard options.advertise == nil && options.bind.host.isUnspecified else { return }
        let filter = options.interfaces
        addressWatcher = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                guard let self else { return }
                let now = Self.interfaceAddresses(filter)
                guard !now.isEmpty, let (inst, _) = try? await self.shell.snapshot(), inst.me.entry.addresses != now
                else { continue }
                self.log.notice("addresses changed", metadata: [
                    "was": "\(inst.me.entry.addresses.map(\.description))", "now": "\(now.map(\.description))",
                ])
                _ = try? await self.shell.act { inst, t in ((), try inst.update(now: t) { $0.addresses = now }) }
            }
        }
    }

    let lock: DataDirectoryLock
    let firstState: NodeState

    /// Binds, joins the seeds and the members remembered from the last run, serves the control API.
    public func start() async throws {
        let state = NodeState.load(from: options.dataDirectory)
        var seeds = [PeerAddress]()
        for s in options.join + state.peers {
            if let a = PeerAddress(s) { seeds.append(a); continue }
            guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]),
                let resolved = try? SocketAddress.makeAddressResolvingHost(String(s[..<colon]), port: port),
                let a = PeerAddress(resolved)
            else { throw NodeError("cannot resolve the seed \(s): give host:port") }
            seeds.append(a)
        }
        let port = (options.advertise ?? options.bind).port
        let mine = Set(firstAddresses.map { PeerAddress(host: $0, port: port) } + [options.advertise ?? options.bind])
        seeds = Array(Set(seeds.filter { !mine.contains($0) })).sorted()
        #if Chat
        if options.chat.enabled { try await startChat() }
        let chat = self.chat
        #else
        if options.chat.enabled {
            throw NodeError("this hearsay was built without chat (make release-overlay): run it with --chat off")
        }
        #endif
        let control = self.control
        let log = self.log
        let me = identity.id
        shell.onEvent = { [weak self] e in
            #if Chat
            chat?.tableChanged(e)
            #endif
            // The user changed their status: remember it now, not only every 30 s, and tell
            // link-local clients.
            if e.id == me, e.previous == .alive, e.state == .alive {
                Task { await self?.saveState() }
                self?.discovery?.ownEntryChanged(e.entry.entry)
            }
            if e.previous != e.state {
                log.info("member \(e.entry.entry.handle) \(e.id.short): \(e.previous.map(\.description) ?? "new") -> \(e.state.map(\.description) ?? "forgotten")",
                         metadata: ["precedence": "\(e.precedence)", "hops": "\(e.hops)"])
            }
            guard let m = e.state.map({ Member(entry: e.entry, state: $0, claimIncarnation: e.precedence.incarnation,
                                               updatedAt: e.at, hops: e.hops) }) else { return }
            control.broadcast(TableRow(m, now: e.at))
        }
        control.discoveryReport = { [weak self] in
            guard let self else { return DiscoveryReport(mode: "off", state: "off", detail: "node stopping", instance: nil,
                                                         bind: "", advertised: [], peers: [:], ignored: [:]) }
            return await self.discoveryReport()
        }
        do {
            controlChannel = try await control.bind(path: options.control)
        } catch let e as ControlPathError {
            await stopChat()
            throw NodeError(e.description)
        } catch {
            await stopChat()
            throw NodeError("cannot serve the control socket \(options.control): \(error)")
        }
        do {
            try await shell.start(bind: try options.bind.socketAddress(), seeds: seeds)
        } catch {
            try? await controlChannel?.close()
            control.unpublish(path: options.control)
            try? await metricsChannel?.close()
            await stopChat()
            throw NodeError("cannot listen on \(options.bind) (UDP and TCP): \(error); choose another --bind")
        }
        if let m = options.metricsAddress {
            do {
                metricsChannel = try await MetricsEndpoint.bind(try m.socketAddress(), on: shell.loop, metrics: metrics,
                                                             admission: admissions.metrics)
            } catch {
                await stop(grace: .zero)
                throw NodeError("cannot serve metrics on \(m): \(error); choose another --metrics")
            }
        }
        if options.mdns != .off {
            let chatPort = (try? await shell.snapshot())?.0.me.entry.chatPort ?? 0  // the port bound
            let d = NodeDiscovery(shell: shell, me: identity.id, handle: options.handle,
                                  gossipPort: (options.advertise ?? options.bind).port, chatPort: chatPort,
                                  filter: options.interfaces, log: log)
            #if Chat
            if let chat {
                // Link-local XMPP (issue 6): once the daemon answers, listen for streams as
                // "handle@host" and publish this user on _presence._tcp.
                let handle = options.handle
                let shell = self.shell
                d.onPresenceRunning = { [weak d] host in
                    Task {
                        let name = "\(handle)@\(host)"
                        guard let port = try? await chat.startLinkLocal(localName: name) else { return }
                        let discovery = d
                        chat.onStandIns = { records in discovery?.shell.loop.execute { discovery?.setStandIns(records) } }
                        shell.loop.execute {
                            shell.actOnLoop { inst, _ in
                                // The status now (the user may have changed it while the daemon started).
                                let me = inst.me.entry
                                discovery?.publishPresence(LinkLocalPresence(
                                    instance: name, port: UInt16(port), first: handle, status: me.status,
                                    message: me.statusText, node: PresenceObserver.hearsayNode, ver: "1"))
                                return []
                            }
                        }
                    }
                }
            }
            #endif
            if let line = d.start(mode: options.mdns, me: identity.id) {
                log.warning("\(line)")
                discoveryOff = line
            } else {
                discovery = d
            }
        } else {
            discoveryOff = "--mdns off"
        }
        watchAddresses()
        // Only now is this incarnation in use.
        try? firstState.save(to: options.dataDirectory)
        log.info("started", metadata: [
            "id": "\(identity.id.grouped)", "bind": "\(options.bind)", "seeds": "\(seeds.map(\.description))",
            "incarnation": "\(firstState.incarnation)",
        ])
        sampler = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self, let (inst, wire) = try? await self.shell.snapshot() else { continue }
                self.metrics.sample(inst, wire)
                self.metrics.sampleListeners(self.admissions.all, descriptors: self.descriptors)
                #if Chat
                if let chat = self.chat {
                    let (counts, outbox) = await chat.stats()
                    self.metrics.sampleChat(counts, outbox: outbox, storeFailures: chat.writerCounts.failures)
                }
                #endif
            }
        }
        // Remember the members every 30 s, so that a restart after a crash rejoins them too.
        saver = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(30))
                await self?.saveState()
            }
        }
    }

    func stopChat() async {
        #if Chat
        await chat?.stop()
        #endif
    }

    var saver: Task<Void, Never>?
    var sampler: Task<Void, Never>?
    var metricsChannel: Channel?

    /// Writes the incarnation in use and the gossip addresses of the live members.
    func saveState() async {
        guard let (inst, _) = try? await shell.snapshot() else { return }
        let peers = inst.table.sortedRows().filter { $0.isNode && $0.id != inst.id && $0.state.isLive }
            .compactMap { $0.entry.entry.gossipAddress?.description }
        let me = inst.me.entry
        // A graceful leave publishes `offline`: what is kept is the status the user chose.
        let status = me.flags.contains(.left) ? firstState.status : me.status.description
        let text = me.flags.contains(.left) ? firstState.statusText : me.statusText
        try? NodeState(incarnation: inst.me.version.incarnation, peers: peers, status: status, statusText: text)
            .save(to: options.dataDirectory)
    }

    /// Graceful leave: tells everyone, waits a moment for the news to go out, remembers the
    /// members for the next start, closes.
    public func stop(grace: Duration = .milliseconds(500)) async {
        saver?.cancel()
        sampler?.cancel()
        addressWatcher?.cancel()
        log.info("leaving")
        discovery?.stop()  // withdraws the mDNS record: a clean goodbye
        await saveState()
        _ = try? await shell.act { inst, now in
            // The users this node observed for other realms go with it (signed retractions).
            var ds = [Directive]()
            for fid in inst.ownForeign { ds += inst.retractForeign(fid, now: now) }
            return ((), ds + inst.leave(now: now))
        }
        try? await Task.sleep(for: grace)
        try? await controlChannel?.close()
        try? await metricsChannel?.close()
        await stopChat()
        await shell.close()
        control.unpublish(path: options.control)
        try? await group.shutdownGracefully()
    }
}

public struct NodeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
