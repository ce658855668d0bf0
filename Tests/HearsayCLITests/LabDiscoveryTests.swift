import Foundation
import HearsayNode
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `Tools/lab` LAN of its own (a lab name per instance, so suites can run side by side): hosts
/// with their own network namespace, D-Bus and avahi-daemon. mDNS exists only in there.
final class Lab: @unchecked Sendable {
    static let script: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tools/lab").path

    /// Why lab tests cannot run here, or nil. Only a missing root is a reason to skip: as root
    /// (CI) a lab that does not come up is a failure.
    static var unavailable: String? { getuid() == 0 ? nil : "the lab needs root (network namespaces)" }

    let name: String
    let root = temporaryDirectory()
    var nodes: [String: pid_t] = [:]

    /// Labs made by this process: each name is unique even when suites running in parallel pick
    /// the same letter (a shared name let one test tear down another's lab).
    static let made = Mutex(0)

    init(_ name: String) {
        let n = Self.made.withLock { m in
            m += 1
            return m
        }
        self.name = "hs\(getpid() % 10_000)\(name)\(n)"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// Runs `Tools/lab ARGS` and returns its standard output; throws with its error output.
    @discardableResult
    func lab(_ args: [String]) throws -> String {
        let r = try runToEnd([Self.script] + args, environment: ["LAB": name])
        guard r.status == 0 else { throw LabError("lab \(args.joined(separator: " ")): \(r.err)") }
        return r.out
    }

    func up(_ n: Int) throws { try lab(["up", String(n)]) }
    func down() {
        for (_, pid) in nodes { kill(pid, SIGKILL); waitExit(pid) }
        _ = try? lab(["down"])
        try? FileManager.default.removeItem(atPath: root)
    }

    func ip(_ host: String) throws -> String { try lab(["ip", host]).trimmingCharacters(in: .whitespacesAndNewlines) }

    func data(_ node: String) -> String { root + "/" + node }

    /// Starts `hearsay node --data DIR EXTRA...` on `host` (nothing else: the zero-setup case).
    func startNode(_ node: String, on host: String, extra: [String] = []) throws {
        nodes[node] = try spawn([Self.script, "exec", host, try hearsayExecutable(), "node", "--data", data(node)] + extra,
                                environment: ["LAB": name], stderr: data(node) + ".log")
    }

    /// A node on each of `hosts` (named after its host); true once every one lists them all alive.
    func startNodes(_ hosts: [String], within seconds: Double = 5) throws -> Bool {
        for h in hosts { try startNode(h, on: h) }
        return eventually(seconds, hosts) { $0.filter { $0.state == "alive" }.count == hosts.count }
    }

    func kill9(_ node: String) {
        guard let pid = nodes.removeValue(forKey: node) else { return }
        kill(pid, SIGKILL)
        waitExit(pid)
    }

    /// Whether the node's process still runs.
    func running(_ node: String) -> Bool {
        guard let pid = nodes[node] else { return false }
        return waitpid(pid, nil, WNOHANG) == 0
    }

    func log(_ node: String) -> String { (try? String(contentsOfFile: data(node) + ".log", encoding: .utf8)) ?? "" }

    func table(_ node: String) -> [TableRow]? {
        (try? ControlClient(path: data(node) + "/control.sock").request(ControlRequest(op: "table")))?.rows
    }

    /// Polls every 100 ms, at most `seconds`, until `condition` holds for every node in `nodes`.
    func eventually(_ seconds: Double, _ nodes: [String], _ condition: ([TableRow]) -> Bool) -> Bool {
        poll(seconds) { nodes.allSatisfy { table($0).map(condition) ?? false } }
    }

    /// `hearsay doctor` on `host` for `node`'s data directory: exit status and lines.
    func doctor(_ node: String, on host: String) throws -> (status: Int32, lines: [String]) {
        let r = try runToEnd([Self.script, "exec", host, try hearsayExecutable(), "doctor", "--data", data(node), "--timeout", "1"],
                             environment: ["LAB": name])
        return (r.status, r.out.split(separator: "\n").map(String.init))
    }

    /// `avahi-browse -rpt TYPE` on `host`: the resolved (`=`) lines, split at `;`. Bounded to 5 s:
    /// avahi-browse was once seen waiting for ever on a resolver right after a daemon restart.
    func browse(_ host: String, _ type: String = "_hearsay._udp") throws -> [[String]] {
        let r = try runToEnd([Self.script, "exec", host, "timeout", "-s", "KILL", "5", "avahi-browse", "-rpt", type],
                             environment: ["LAB": name])
        return r.out.split(separator: "\n").filter { $0.hasPrefix("=") }
            .map { $0.split(separator: ";", omittingEmptySubsequences: false).map(String.init) }
    }
}

struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// `avahi-browse -p` escapes a name's bytes as decimal `\DDD`.
func unescapeBrowseName(_ s: String) -> String {
    var out = [UInt8](), b = Array(s.utf8), i = 0
    while i < b.count {
        if b[i] == UInt8(ascii: "\\"), i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self)) {
            out.append(v)
            i += 4
        } else {
            out.append(b[i])
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

@Suite(.blockingLane, .enabled(if: Lab.unavailable == nil, "\(Lab.unavailable ?? "")"))
struct LabDiscoveryTests {
    @Test("3 hosts find each other through mDNS alone; a 4th joins; kill -9 is death by gossip while its record lingers")
    func threeHosts() throws {
        let lab = Lab("a")
        defer { lab.down() }
        try lab.up(3)
        let started = Date()
        for h in ["h1", "h2", "h3"] { try lab.startNode(h, on: h) }
        let all = ["h1", "h2", "h3"]
        #expect(lab.eventually(5, all) { $0.filter { $0.state == "alive" }.count == 3 },
                "after 5 s: \(all.map { lab.table($0)?.count ?? -1 }) rows; h1 log:\n\(lab.log("h1"))")
        #expect(Date().timeIntervalSince(started) < 5.5)
        // Each node advertises its LAN address, found without any --join.
        let h2ip = try lab.ip("h2")
        #expect(lab.table("h1")?.contains { $0.addresses == [h2ip] && $0.port == 7946 } == true)

        // A 4th host joins the LAN: everyone lists it.
        try lab.lab(["add", "h4"])
        try lab.startNode("h4", on: "h4")
        let four = all + ["h4"]
        #expect(lab.eventually(5, four) { $0.filter { $0.state == "alive" }.count == 4 })

        // kill -9 of h3's node: its avahi-daemon withdraws the record (the D-Bus client is gone),
        // and gossip declares the node dead.
        let h3ip = try lab.ip("h3"), h4ip = try lab.ip("h4")
        lab.kill9("h3")
        #expect(lab.eventually(15, ["h1", "h2", "h4"]) { $0.first { $0.addresses == [h3ip] }?.state == "dead" })

        // h4 crashes as a whole host: its avahi-daemon dies without goodbye packets, then its node.
        // The record lingers in the others' mDNS caches; gossip still declares the node dead.
        try lab.lab(["avahi", "h4", "kill"])
        lab.kill9("h4")
        #expect(lab.eventually(15, ["h1", "h2"]) { $0.first { $0.addresses == [h4ip] }?.state == "dead" })
        let lingering = try lab.browse("h1").contains { $0.count > 7 && $0[7] == h4ip }
        #expect(lingering, "the crashed host's record was expected to linger in h1's mDNS cache")
    }

    @Test("avahi-browse on another host shows the node with its address and TXT record")
    func avahiBrowseShowsTheNode() throws {
        let lab = Lab("b")
        defer { lab.down() }
        try lab.up(2)
        try lab.startNode("n1", on: "h1", extra: ["--handle", "ann"])
        #expect(lab.eventually(5, ["n1"]) { !$0.isEmpty })
        let id = try #require(lab.table("n1")?.first?.id)
        var lines = [[String]]()
        for _ in 0..<30 where lines.isEmpty {  // at most 3 s for the probe to finish
            lines = try lab.browse("h2")
            if lines.isEmpty { usleep(100_000) }
        }
        let line = try #require(lines.first, "no resolved _hearsay._udp record on h2")
        // =;lan0;IPv4;NAME;_hearsay._udp;local;HOST.local;ADDRESS;PORT;"txt"...
        #expect(line[1] == "lan0")
        #expect(unescapeBrowseName(line[3]) == "ann on \(lab.name)-h1")
        #expect(line[7] == (try lab.ip("h1")))
        #expect(line[8] == "7946")
        let txt = line[9...].joined(separator: ";")
        for kv in ["\"txtvers=1\"", "\"id=\(id)\"", "\"pv=1\"", "\"gossip=7946\"", "\"chat=7947\"", "\"realm=hearsay\""] {
            #expect(txt.contains(kv), "TXT \(txt) lacks \(kv)")
        }
    }

    @Test("restarting a host's avahi-daemon does not break its node: it publishes again")
    func daemonRestart() throws {
        let lab = Lab("c")
        defer { lab.down() }
        try lab.up(3)
        try lab.startNode("n1", on: "h1")
        try lab.startNode("n2", on: "h2")
        #expect(lab.eventually(5, ["n1", "n2"]) { $0.filter { $0.state == "alive" }.count == 2 })
        try lab.lab(["avahi", "h1", "restart"])
        // Back in mDNS: seen by a browser on another host, and by a node started only now.
        var seen = false
        for _ in 0..<50 where !seen {  // at most 5 s
            seen = try lab.browse("h3").contains { $0.count > 7 && $0[7] == (try? lab.ip("h1")) }
            if !seen { usleep(100_000) }
        }
        #expect(seen, "h1's node did not publish again; its log:\n\(lab.log("n1"))")
        try lab.startNode("n3", on: "h3")
        #expect(lab.eventually(5, ["n3"]) { $0.filter { $0.state == "alive" }.count == 3 })
        #expect(lab.running("n1"))
    }

    @Test("two nodes with the same handle on one host both stay visible, under distinct instance names")
    func sameHandle() throws {
        let lab = Lab("d")
        defer { lab.down() }
        try lab.up(2)
        try lab.startNode("x1", on: "h1", extra: ["--handle", "sam"])
        try lab.startNode("x2", on: "h1", extra: ["--handle", "sam", "--bind", "0.0.0.0:7948"])  // chat on 7949
        try lab.startNode("y", on: "h2", extra: ["--handle", "other"])
        #expect(lab.eventually(5, ["x1", "x2", "y"]) { $0.filter { $0.state == "alive" }.count == 3 })
        var names = Set<String>()
        for _ in 0..<30 where names.count < 2 {
            names = Set(try lab.browse("h2").filter { $0.count > 3 && unescapeBrowseName($0[3]).hasPrefix("sam on") }
                .map { unescapeBrowseName($0[3]) })
            if names.count < 2 { usleep(100_000) }
        }
        #expect(names.count == 2, "instances seen: \(names)")
        #expect(lab.log("x1").contains("renamed") || lab.log("x2").contains("renamed"))
    }

    @Test("--mdns auto with no avahi-daemon says so in one line and runs with seeds only")
    func noDaemon() throws {
        let lab = Lab("e")
        defer { lab.down() }
        try lab.up(2)
        try lab.lab(["avahi", "h1", "stop"])
        try lab.startNode("lonely", on: "h1")
        try lab.startNode("seed", on: "h2", extra: ["--mdns", "off"])
        #expect(lab.eventually(5, ["lonely", "seed"]) { !$0.isEmpty })
        let lines = lab.log("lonely").split(separator: "\n").filter { $0.contains("mDNS discovery is off") }
        #expect(lines.count == 1, "log:\n\(lab.log("lonely"))")
        #expect(lines.first?.contains("avahi-daemon") == true)
        // Seeds still work.
        lab.kill9("lonely")
        try lab.startNode("lonely", on: "h1", extra: ["--join", "\(try lab.ip("h2")):7946"])
        #expect(lab.eventually(5, ["lonely", "seed"]) { $0.filter { $0.state == "alive" }.count == 2 })
    }

    @Test("hearsay doctor: all well; then a firewall, a missing daemon, a loopback bind, two interfaces on one subnet")
    func doctor() throws {
        let lab = Lab("f")
        defer { lab.down() }
        try lab.up(3)
        #expect(try lab.startNodes(["h1", "h2"]))
        // Until h1 has resolved h2's record itself (gossip may have joined them first).
        for _ in 0..<50 {
            let r = try? ControlClient(path: lab.data("h1") + "/control.sock").request(ControlRequest(op: "discovery"))
            if r?.discovery?.peers.isEmpty == false { break }
            usleep(100_000)
        }
        let well = try lab.doctor("h1", on: "h1")
        #expect(well.status == 0, "\(well.lines)")
        #expect(well.lines.allSatisfy { $0.hasPrefix("ok") })
        #expect(well.lines.contains { $0.contains("answers and sees this node alive") })

        // h2 drops everything sent to its gossip port: h1's doctor says the peer does not answer.
        try lab.lab(["exec", "h2", "nft", "add table inet fw; add chain inet fw in { type filter hook input priority 0 ; }; "
                     + "add rule inet fw in udp dport 7946 drop; add rule inet fw in tcp dport 7946 drop"])
        let walled = try lab.doctor("h1", on: "h1")
        #expect(walled.status == 1)
        #expect(walled.lines.contains { $0.hasPrefix("problem") && $0.contains("does not answer") }, "\(walled.lines)")

        // h3: no avahi-daemon, a node bound to loopback, and a second interface on the same subnet.
        try lab.lab(["avahi", "h3", "stop"])
        try lab.lab(["link", "h3"])
        try lab.startNode("h3", on: "h3", extra: ["--bind", "127.0.0.1:7946"])
        #expect(lab.eventually(5, ["h3"]) { !$0.isEmpty })
        let sick = try lab.doctor("h3", on: "h3")
        #expect(sick.status == 1)
        let problems = sick.lines.filter { $0.hasPrefix("problem") }
        #expect(problems.contains { $0.contains("avahi-daemon") }, "\(sick.lines)")
        #expect(problems.contains { $0.contains("listens on 127.0.0.1:7946 only") }, "\(sick.lines)")
        #expect(problems.contains { $0.contains("lan0 and lan1") && $0.contains("10.77.1.0/24") }, "\(sick.lines)")
    }

    @Test("a new address on a node's interface is gossiped as a new version of its entry; its removal too")
    func addressChange() throws {
        let lab = Lab("g")
        defer { lab.down() }
        try lab.up(2)
        #expect(try lab.startNodes(["h1", "h2"]))
        let h1ip = try lab.ip("h1")
        try lab.lab(["exec", "h1", "ip", "addr", "add", "10.77.1.200/24", "dev", "lan0"])
        #expect(lab.eventually(8, ["h2"]) { $0.first { $0.addresses.contains(h1ip) }?.addresses == [h1ip, "10.77.1.200"] },
                "h2 sees: \(lab.table("h2")?.map(\.addresses) ?? [])")
        try lab.lab(["exec", "h1", "ip", "addr", "del", "10.77.1.200/24", "dev", "lan0"])
        #expect(lab.eventually(8, ["h2"]) { $0.first { $0.addresses.contains(h1ip) }?.addresses == [h1ip] })
        #expect(lab.log("h1").contains("addresses changed"))
    }

    @Test("two sites: mDNS stays on each LAN, --join crosses the router")
    func twoSites() throws {
        let lab = Lab("h")
        defer { lab.down() }
        try lab.lab(["sites", "2", "1", "20ms", "0%"])
        for h in ["a1", "a2", "b1"] { try lab.startNode(h, on: h) }
        #expect(lab.eventually(5, ["a1", "a2"]) { $0.filter { $0.state == "alive" }.count == 2 })
        // b1 hears nobody's mDNS: alone after a while.
        usleep(2_000_000)
        #expect(lab.table("b1")?.count == 1)
        #expect(try lab.browse("b1").allSatisfy { $0.count > 7 && $0[7].hasPrefix("10.77.2.") })
        // Joined by address across the router, the sites merge.
        lab.kill9("b1")
        try lab.startNode("b1", on: "b1", extra: ["--join", "\(try lab.ip("a1")):7946"])
        #expect(lab.eventually(10, ["a1", "a2", "b1"]) { $0.filter { $0.state == "alive" }.count == 3 })
    }
}
