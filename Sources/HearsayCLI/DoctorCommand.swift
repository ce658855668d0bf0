import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Discovery
import DiscoveryAvahi
import HearsayModel
import HearsayNode

/// `hearsay doctor`: checks what usually makes peers invisible on a LAN, one line each, with what
/// to do. Exit status 1 if anything is wrong.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check why peers might not see each other: avahi-daemon, interfaces, ports, the running node.")

    @OptionGroup var data: DataOptions

    @Option(name: .long, help: "Seconds to wait for each peer's gossip port.")
    var timeout = 2

    func run() throws {
        var problems = 0
        func ok(_ s: String) { emitLine("ok       " + s) }
        func problem(_ s: String) {
            problems += 1
            emitLine("problem  " + s)
        }

        // 1. The system mDNS stack.
        switch AvahiDiscovery.probeDaemon() {
        case .success(let d): ok("avahi-daemon \(d.version) answers on D-Bus (this host is \(d.hostName).local)")
        case .failure(let why):
            problem("\(why): peers cannot find this node by mDNS. Start avahi-daemon (`sudo systemctl start avahi-daemon`; "
                    + "Debian: `sudo apt-get install avahi-daemon`), or join peers by address with --join HOST:PORT.")
        }

        // 2. Interfaces.
        let interfaces = (try? NodeDiscovery.localInterfaces()) ?? []
        let filter = InterfaceFilter()
        let lan = LocalInterface.advertised(interfaces, filter: filter)
        if lan.isEmpty {
            problem("no LAN address on this host (only loopback, link-local or skipped interfaces): connect to a network")
        } else {
            ok("LAN addresses: " + interfaces.filter { lan.contains($0.address) }
                .map { "\($0.name) \($0.address)/\($0.prefixLength)" }.joined(separator: ", "))
        }
        for shared in LocalInterface.sharedSubnets(interfaces, filter: filter) {
            problem("\(shared.interfaces.joined(separator: " and ")) are all on \(shared.network): peers may reach this host "
                    + "through the wrong one or see it twice. Disconnect one, or run the node with --interfaces \(shared.interfaces[0]).")
        }

        // 3. The running node.
        let client = data.client()
        guard let resp = try? client.request(ControlRequest(op: "discovery")), resp.ok, let report = resp.discovery else {
            problem("no node is running with control socket \(data.socketPath): start one with `hearsay node` (or pass --data)")
            throw ExitCode(problems == 0 ? 0 : 1)
        }
        if let bind = PeerAddress(report.bind), bind.host.isLoopback {
            problem("the node listens on \(report.bind) only: no peer can reach it. Start it without --bind (every "
                    + "address), or with --bind <LAN address>:\(bind.port).")
        } else {
            ok("the node listens on \(report.bind), advertising \(report.advertised.joined(separator: ", "))")
        }
        switch report.state {
        case "running": ok("mDNS: published as \"\(report.instance ?? "?")\" through \(report.detail)")
        case "off": problem("mDNS is off in the node (\(report.detail)): it only finds peers given with --join")
        default: problem("mDNS \(report.state): \(report.detail)")
        }
        for (reason, n) in report.ignored.sorted(by: { $0.key < $1.key }) {
            problem("\(n) mDNS record(s) ignored (\(reason)): a peer runs an incompatible version, or sits on a skipped interface")
        }

        // 4. Each peer found by mDNS: does its gossip port answer (TCP), and does it see this node?
        let table = try? client.request(ControlRequest(op: "table"))
        let me = table?.node
        let port = PeerAddress(report.bind)?.port ?? 7946
        if report.peers.isEmpty && report.state == "running" { ok("no other Hearsay node found on the LAN yet") }
        for (id, addresses) in report.peers.sorted(by: { $0.key < $1.key }) {
            let short = String(id.prefix(10))
            guard let first = addresses.first, let address = PeerAddress(first) else { continue }
            do {
                let theirs = try TableInspector.fetch(address, timeout: timeout)
                if theirs.contains(where: { $0.entry.id.base32 == me && $0.state == .alive }) {
                    ok("peer \(short) at \(address) answers and sees this node alive")
                } else {
                    problem("peer \(short) at \(address) answers but does not see this node alive: a firewall on this "
                            + "host blocks UDP/TCP port \(port) from it; open it")
                }
            } catch {
                problem("peer \(short) at \(address) is on mDNS but its gossip port does not answer (\(error)): a "
                        + "firewall on it (or here) blocks UDP/TCP \(address.port); open it on both hosts")
            }
        }

        // 5. Others keep suspecting this node: its UDP port is not reachable from them (or its
        //    answers do not reach them), though gossip over TCP keeps it alive.
        let before = (try? client.request(ControlRequest(op: "stats")))?.gossip?.refutations
        usleep(UInt32(3_000_000))
        if let before, let after = (try? client.request(ControlRequest(op: "stats")))?.gossip?.refutations {
            if after > before {
                problem("other nodes suspected this node \(after - before) time(s) in 3 s: probes between them and this "
                        + "host get lost. A firewall blocks UDP port \(port) in one direction (here or on a peer).")
            } else {
                ok("no peer suspected this node in 3 s")
            }
        }
        if problems > 0 { throw ExitCode(1) }
    }
}
