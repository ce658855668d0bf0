import ArgumentParser
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import Conversation
import Discovery
import HearsayModel
import HearsayNode
import Logging

/// `hearsay node`: runs a node until SIGINT/SIGTERM, then leaves gracefully.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a Hearsay node: gossip on the network, control API on a local socket.")

    @OptionGroup var data: DataOptions

    @Option(name: .long, help: "Your display name (default: the user name).")
    var handle: String?

    @Option(name: .long, help: "Gossip endpoint to listen on, UDP and TCP (ADDR:PORT, IPv6 in brackets). On 0.0.0.0 the node advertises its interfaces' addresses.")
    var bind = "0.0.0.0:7946"

    @Option(name: .long, help: "Address others should use to reach this node (for NAT or containers).")
    var advertise: String?

    @Option(name: .long, help: "Seeds to join, HOST:PORT[,HOST:PORT...]; retried with backoff until one answers.")
    var join: String?

    @Option(name: .long, help: "Gossip profile: lan or wan.")
    var profile = "lan"

    @Option(name: .long, help: "Serve GET /metrics for Prometheus on ADDR:PORT (e.g. 127.0.0.1:9464). Off by default.")
    var metrics: String?

    @Option(name: .long, help: "LAN discovery: auto (the system avahi-daemon if it answers, else seeds only), daemon (wait for avahi-daemon), off.")
    var mdns = "auto"

    @Option(name: .long, help: "Use only these interfaces for addresses and mDNS (NAME[,NAME...]).")
    var interfaces: String?

    @Option(name: .long, help: "Interface name prefixes to skip (PREFIX[,PREFIX...]; empty: none). Default: container bridges, veths, VPN tunnels (docker, br-, veth, virbr, tun, tap, wg, tailscale, zt, ...).")
    var skipInterfaces: String?

    @Option(name: .long, help: "Chat: on (native sessions on --chat-port, history in <data>/chat.sqlite) or off (a headless gossip node). Default: on, or off in a build without chat (make release-overlay).")
    var chat = chatBuilt ? "on" : "off"

    @Option(name: .long, help: "TCP port for native chat sessions (TLS 1.3). Default: the gossip port + 1 (7947); 0: any free port.")
    var chatPort: UInt16?

    @Option(name: .long, help: "Who may open a chat session: everyone (default on a LAN), friends, or ask (requests wait in `hearsay requests` and `hearsay chat`).")
    var policy = "everyone"

    @Option(name: .long, help: "Chat store durability: process (a message stored survives the node being killed; default) or power (fsync each commit: survives a power cut, slower).")
    var durability = "process"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        guard let bindAddress = PeerAddress(bind) else { throw ValidationError("--bind takes ADDR:PORT, e.g. 127.0.0.1:7946") }
        var advertised: PeerAddress?
        if let advertise {
            guard let a = PeerAddress(advertise) else { throw ValidationError("--advertise takes ADDR:PORT") }
            advertised = a
        }
        guard profile == "lan" || profile == "wan" else { throw ValidationError("--profile is lan or wan") }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level is one of trace, debug, info, notice, warning, error, critical")
        }
        var options = NodeOptions(
            dataDirectory: data.directory, handle: handle ?? ProcessInfo.processInfo.environment["USER"] ?? "someone",
            bind: bindAddress, advertise: advertised,
            join: join.map { $0.split(separator: ",").map(String.init) } ?? [],
            gossip: profile == "wan" ? .wan : .lan, controlPath: data.control)
        options.logLevel = level
        guard let mode = MDNSMode(rawValue: mdns) else { throw ValidationError("--mdns is auto, daemon or off") }
        options.mdns = mode
        func list(_ s: String?) -> [String]? { s.map { $0.split(separator: ",").map { String($0).trimmed } } }
        options.interfaces = InterfaceFilter(skipPrefixes: list(skipInterfaces) ?? InterfaceFilter.defaultSkipPrefixes,
                                             only: list(interfaces) ?? [])
        guard chat == "on" || chat == "off" else { throw ValidationError("--chat is on or off") }
        options.chat.enabled = chat == "on"
        options.chat.port = chatPort
        guard let p = SessionPolicy(rawValue: policy) else { throw ValidationError("--policy is everyone, friends or ask") }
        options.chat.policy = p
        guard let d = ChatDurability(rawValue: durability) else { throw ValidationError("--durability is process or power") }
        options.chat.durability = d
        if let metrics {
            guard let a = PeerAddress(metrics) else { throw ValidationError("--metrics takes ADDR:PORT, e.g. 127.0.0.1:9464") }
            options.metricsAddress = a
        }
        let node: Node
        do {
            node = try Node(options: options)
            try await node.start()
        } catch {
            throw Failure("\(error)")
        }
        emitLine("hearsay node \(node.identity.id.grouped) listening on \(bindAddress), control \(options.control)")
        await waitForSignal()
        await node.stop()
    }

    /// Returns on SIGINT or SIGTERM.
    func waitForSignal() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let once = Once(c)
            for sig in [SIGINT, SIGTERM] {
                let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                src.setEventHandler { once.fire() }
                src.resume()
                Once.keep(src)
            }
        }
    }
}

/// Resumes a continuation once, from whichever signal comes first.
final class Once: Sendable {
    private let c: Mutex<CheckedContinuation<Void, Never>?>
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    init(_ c: CheckedContinuation<Void, Never>) { self.c = Mutex(c) }

    static func keep(_ s: DispatchSourceSignal) { sources.append(s) }

    func fire() {
        let c = self.c.withLock { c in
            defer { c = nil }
            return c
        }
        c?.resume()
    }
}

/// `--data` / `--control`: how CLI subcommands find the running node.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (identity, state, control socket). Default: $XDG_DATA_HOME/hearsay or ~/.local/share/hearsay.")
    var data: String?

    @Option(name: .long, help: "The node's control socket (default: <data>/control.sock).")
    var control: String?

    var directory: String { data ?? IdentityStore.defaultDataDirectory() }
    var socketPath: String { control ?? directory + "/control.sock" }

    func client() -> ControlClient { ControlClient(path: socketPath) }

    /// Sends one request to the node: no node, or a refusal, is the command's error.
    func call(_ r: ControlRequest) throws -> ControlResponse {
        let resp: ControlResponse
        do { resp = try client().request(r) } catch { throw Failure(error.description) }
        guard resp.ok else { throw Failure(resp.error ?? "the node refused") }
        return resp
    }
}

extension String {
    var trimmed: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
