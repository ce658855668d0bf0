import Foundation
import Gossip
import HearsayModel
import HearsayNode
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real `hearsay node` processes on 127.0.0.x (loopback only, no mDNS), driven and inspected
/// through the CLI, as an operator would.
final class Cluster: @unchecked Sendable {
    struct Proc {
        let process: Process
        let data: String
        let address: String
    }

    let root: String = {
        let r = temporaryDirectory()
        try? FileManager.default.createDirectory(atPath: r, withIntermediateDirectories: true)
        return r
    }()
    let port: Int
    var procs: [Int: Proc] = [:]

    nonisolated(unsafe) static var clusters = 0
    static let lock = NSLock()

    init() {
        // A port per cluster (suites run in parallel); nodes differ by loopback address 127.0.0.1...N.
        Self.lock.lock()
        Self.clusters += 1
        let k = Self.clusters
        Self.lock.unlock()
        // Even ports, two apart: a node also listens for chat on its gossip port + 1. All below
        // 32768, where Linux starts handing out ephemeral ports (other tests' listeners on port 0
        // and outgoing connections took a cluster's port when the range reached 60000).
        port = 20_000 + Int(getpid() % 300) * 40 + 2 * k
    }

    func address(_ i: Int) -> String { "127.0.0.\(i + 1):\(port)" }
    func data(_ i: Int) -> String { root + "/n\(i)" }
    func logPath(_ i: Int) -> String { root + "/n\(i).log" }

    func start(_ i: Int, handle: String? = nil, join: Int? = 0, extra: [String] = []) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try hearsayExecutable())
        // mDNS off: tests in this (root) namespace must never make avahi-daemon announce anything.
        var args = ["node", "--data", data(i), "--handle", handle ?? "node\(i)", "--bind", address(i), "--mdns", "off"]
        if let j = join, j != i { args += ["--join", address(j)] }
        args += extra
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: logPath(i), contents: nil)
        p.standardError = FileHandle(forWritingAtPath: logPath(i))
        try p.run()
        procs[i] = Proc(process: p, data: data(i), address: address(i))
    }

    /// Node 0 on its own, node 1 joining it; returns once both list both alive.
    func startPair(extra: [String] = []) throws {
        try start(0, join: nil, extra: extra)
        try start(1)
        #expect(eventually(10, nodes: [0, 1]) { $0.filter { $0.state == "alive" }.count == 2 })
    }

    func kill9(_ i: Int) {
        guard let p = procs[i] else { return }
        kill(p.process.processIdentifier, SIGKILL)
        p.process.waitUntilExit()
        procs[i] = nil
    }

    func terminate(_ i: Int) {
        guard let p = procs[i] else { return }
        p.process.terminate()
        p.process.waitUntilExit()
        procs[i] = nil
    }

    func table(_ i: Int) -> [TableRow]? {
        guard let r = try? ControlClient(path: data(i) + "/control.sock").request(ControlRequest(op: "table")) else { return nil }
        return r.rows
    }

    /// Polls (every 100 ms, at most `seconds`) until `condition` holds at every given node
    /// (default: every running node).
    func eventually(_ seconds: Double, nodes: [Int]? = nil, _ condition: ([TableRow]) -> Bool) -> Bool {
        poll(seconds) { (nodes ?? Array(procs.keys)).allSatisfy { table($0).map(condition) ?? false } }
    }

    func stopAll() {
        for i in Array(procs.keys) { kill9(i) }
        try? FileManager.default.removeItem(atPath: root)
    }
}

func hearsayExecutable() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    for c in [".build/debug/hearsay", ".build/release/hearsay"] where FileManager.default.isExecutableFile(atPath: root.appendingPathComponent(c).path) {
        return root.appendingPathComponent(c).path
    }
    throw CocoaError(.fileNoSuchFile)
}

@Suite(.serialized, .blockingLane) struct NodeClusterTests {
    @Test("20 nodes join one seed; status, kill -9, leave and restart are seen by all")
    func twentyNodes() throws {
        let c = Cluster()
        defer { c.stopAll() }
        let n = 20
        try c.start(0)
        usleep(300_000)
        for i in 1..<n { try c.start(i) }

        // Everyone lists all 20 alive.
        #expect(c.eventually(20) { rows in rows.filter { $0.state == "alive" }.count == n })

        // A status change on one is seen by all.
        let r = try hearsay(["status", "away", "at", "lunch", "--data", c.data(7)])
        #expect(r.status == 0, "\(r.err)")
        #expect(c.eventually(10) { rows in rows.contains { $0.handle == "node7" && $0.status == "away" && $0.status_text == "at lunch" } })

        // kill -9: dead everywhere.
        c.kill9(5)
        #expect(c.eventually(30) { rows in rows.first { $0.handle == "node5" }?.state == "dead" })

        // Graceful leave: SIGTERM, the process is gone within 2 s, left everywhere.
        let t0 = Date()
        c.terminate(9)
        #expect(Date().timeIntervalSince(t0) < 2)
        #expect(c.eventually(10) { rows in rows.first { $0.handle == "node9" }?.state == "left" })

        // The killed node restarts: alive everywhere again, with a higher incarnation.
        let before = c.table(0)?.first { $0.handle == "node5" }?.incarnation ?? 0
        try c.start(5)
        #expect(c.eventually(20) { rows in
            guard let row = rows.first(where: { $0.handle == "node5" }) else { return false }
            return row.state == "alive" && row.incarnation > before
        })
    }

    @Test("bad input on the gossip port is dropped and counted; the node keeps serving")
    func badInput() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        let before = c.table(0) ?? []

        // Datagrams: random bytes, a truncated ping, an oversized packet, a forged entry.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = in_port_t(UInt16(c.port).bigEndian)
        to.sin_addr.s_addr = inet_addr("127.0.0.1")
        func send(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { b in
                withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
        }
        var rng = SeededRandom(seed: 5)
        for _ in 0..<200 { send((0..<(1 + rng.below(300))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }
        send([1, 1, 5])  // a ping cut short
        send([UInt8](repeating: 7, count: 4_000))
        let forger = NodeIdentity.deterministic(using: &rng)
        let victimKey = NodeIdentity.deterministic(using: &rng)
        var entry = PresenceEntry(publicKey: forger.publicKey, handle: "node1", addresses: [.ipv4(127, 0, 0, 9)],
                                  gossipPort: 1, chatPort: 1, version: EntryVersion(incarnation: UInt64.max - 9, sequence: 0))
        let signed = try SignedEntry.sign(entry, with: forger)
        entry.publicKey = victimKey.publicKey  // claim another key: the signature no longer matches
        var payload = signed.payload
        payload.replaceSubrange(2..<34, with: victimKey.publicKey)
        var forged = ByteWriter()
        forged.lengthPrefixed(payload); forged.raw(signed.signature)
        // As a datagram (a push, untagged, from an id nobody knows): dropped before the state machine.
        var w = ByteWriter()
        w.u8(GossipCodec.version); w.u8(5); w.u8(1); w.u8(0); w.u8(0)
        w.raw(forged.bytes); w.id(forger.id); w.raw([UInt8](repeating: 0, count: 16))
        send(w.bytes)
        // TCP: a frame announcing 8 MiB + 1 bytes, and a frame that does not decode: each closes its connection.
        func tcp(_ bytes: [UInt8]) -> Bool {
            let t = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(t) }
            let ok = withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(t, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard ok == 0 else { return false }
            _ = bytes.withUnsafeBytes { write(t, $0.baseAddress, $0.count) }
            var tv = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 16)
            return buf.withUnsafeMutableBytes { read(t, $0.baseAddress, 16) } == 0  // closed by the node
        }
        let huge = UInt32(8 << 20) + 1
        #expect(tcp(withUnsafeBytes(of: huge.bigEndian, Array.init)))
        #expect(tcp([0, 0, 0, 3, GossipCodec.version, 99, 0]))
        // The forged entry in an anti-entropy frame: decoded, then refused by its signature.
        var records = ByteWriter()
        records.u8(GossipCodec.version); records.u8(19); records.varint(1); records.raw(forged.bytes)
        records.u8(MemberState.alive.rawValue); records.varint(0); records.varint(0)
        let frame = records.bytes
        _ = tcp(withUnsafeBytes(of: UInt32(frame.count).bigEndian, Array.init) + frame)
        usleep(500_000)

        let stats = try #require(try? ControlClient(path: c.data(0) + "/control.sock").request(ControlRequest(op: "stats")))
        #expect((stats.wire?.dropped["oversized"] ?? 0) >= 2)
        #expect((stats.wire?.dropped["unknown-type"] ?? 0) >= 1)
        #expect((stats.wire?.dropped["unknown-sender"] ?? 0) >= 1)
        let dropped = stats.wire?.dropped.values.reduce(0, +) ?? 0
        #expect(dropped >= 150, "dropped \(stats.wire?.dropped ?? [:])")
        #expect(stats.gossip?.rejectedForged == 1)
        let after = c.table(0) ?? []
        #expect(after.map(\.id) == before.map(\.id))
        #expect(!after.contains { $0.handle == "node1" && $0.addresses == ["127.0.0.9"] })
        // Still serving: the other node still sees it alive, and a status change still spreads.
        #expect((try hearsay(["status", "busy", "--data", c.data(0)])).status == 0)
        #expect(c.eventually(10) { rows in rows.first { $0.handle == "node0" }?.status == "busy" })
    }
}

@Suite(.blockingLane) struct NodeRefusalTests {
    @Test("a second node on the same data directory, or on the same address, is refused with a clear error")
    func refusals() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.start(0, join: nil)
        #expect(c.eventually(10) { !$0.isEmpty })
        let sameData = try hearsay(["node", "--data", c.data(0), "--bind", c.address(5), "--mdns", "off"])
        #expect(sameData.status == 1)
        #expect(sameData.err.contains("another hearsay node is running"))
        #expect(!sameData.err.contains("Usage"))
        let sameAddress = try hearsay(["node", "--data", c.data(1), "--bind", c.address(0), "--mdns", "off"])
        #expect(sameAddress.status == 1)
        #expect(sameAddress.err.contains("cannot listen on"))
        // The first node is untouched.
        #expect(c.table(0)?.count == 1)
    }
}

@Suite(.blockingLane) struct NodeObservabilityTests {
    @Test("structured logs on stderr and Prometheus metrics through the control API")
    func logsAndMetrics() throws {
        let c = Cluster()
        defer { c.stopAll() }
        let metricsPort = UInt16(c.port - 5_000)  // below the ephemeral range too
        try c.startPair(extra: ["--metrics", "127.0.0.1:\(metricsPort)"])
        usleep(1_500_000)  // metrics are sampled once a second

        // The Prometheus endpoint, as a scraper sees it.
        func get(_ path: String) -> String {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var to = sockaddr_in()
            to.sin_family = sa_family_t(AF_INET)
            to.sin_port = in_port_t(metricsPort.bigEndian)
            to.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard ok == 0 else { return "" }
            let req = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
            _ = req.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            var tv = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var out = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                out += buf[0..<n]
                if String(decoding: out, as: UTF8.self).contains("hearsay_health_multiplier") { break }
            }
            return String(decoding: out, as: UTF8.self)
        }
        let scraped = get("/metrics")
        #expect(scraped.hasPrefix("HTTP/1.1 200"))
        #expect(scraped.contains("hearsay_members{state=\"alive\"} 2"))
        #expect(get("/other").hasPrefix("HTTP/1.1 404"))
        let m = try hearsay(["metrics", "--data", c.data(0)])
        #expect(m.status == 0, "\(m.err)")
        #expect(m.out.contains("hearsay_members{state=\"alive\"} 2"))
        #expect(m.out.contains("hearsay_datagrams_total{direction=\"in\"}"))
        let log = (try? String(contentsOfFile: c.logPath(0), encoding: .utf8)) ?? ""
        #expect(log.contains("info hearsay.node"))
        #expect(log.contains("started"))
        #expect(log.contains("member node1"))
    }
}

@Suite(.blockingLane) struct TableWatchTests {
    @Test("hearsay table --watch --json prints a line per change as it arrives")
    func watch() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try hearsayExecutable())
        p.arguments = ["table", "--watch", "--json", "--data", c.data(0)]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        defer {
            p.terminate()
            p.waitUntilExit()
        }
        usleep(300_000)
        #expect((try hearsay(["status", "busy", "in", "a", "call", "--data", c.data(1)])).status == 0)
        // Read what the watcher printed, for at most 10 s.
        let fd = out.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !text.contains("in a call") {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n > 0 { text += String(decoding: buf[0..<n], as: UTF8.self) } else { usleep(50_000) }
        }
        let line = try #require(text.split(separator: "\n").first { $0.contains("in a call") })
        let row = try JSONDecoder().decode(TableRow.self, from: Data(line.utf8))
        #expect(row.handle == "node1")
        #expect(row.status == "busy")
        #expect(row.state == "alive")
    }
}

@Suite(.blockingLane) struct StatusPersistenceTests {
    @Test("the user's status and its text survive a kill -9 and a graceful restart")
    func statusSurvivesRestarts() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.start(0, join: nil)
        #expect(c.eventually(5, nodes: [0]) { !$0.isEmpty })
        #expect(try hearsay(["status", "--data", c.data(0), "away", "at", "lunch"]).status == 0)
        func mine() -> TableRow? { c.table(0)?.first { $0.handle == "node0" } }
        #expect(c.eventually(5, nodes: [0]) { _ in mine()?.status == "away" })
        usleep(300_000)  // saved on the change, not only every 30 s
        c.kill9(0)
        try c.start(0, join: nil)
        #expect(c.eventually(5, nodes: [0]) { _ in mine()?.status == "away" && mine()?.status_text == "at lunch" })
        c.terminate(0)  // a graceful leave publishes offline; the user's choice is what comes back
        try c.start(0, join: nil)
        #expect(c.eventually(5, nodes: [0]) { _ in mine()?.status == "away" && mine()?.status_text == "at lunch" })
    }
}
