import Foundation
import HearsayNode
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Connections without limits (issue 11, point 6), against a real node: silent connections on
/// the chat port from many sources, and half-sent 8 MiB gossip frames. The node caps them, closes
/// the silent ones after its handshake deadline, holds at most its frame budget, and its control
/// API and open chat sessions go on meanwhile.
@Suite(.serialized, .blockingLane) struct ListenerFloodTests {
    /// A TCP connection from `source` (127.0.0.x) to 127.0.0.1:`port`, or -1.
    func connectFrom(_ source: String, to port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var from = sockaddr_in(), to = sockaddr_in()
        from.sin_family = sa_family_t(AF_INET); inet_pton(AF_INET, source, &from.sin_addr)
        to.sin_family = sa_family_t(AF_INET); to.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &to.sin_addr)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } } == 0
            && withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) } } == 0
        if !ok { close(fd) }
        return ok ? fd : -1
    }

    /// Whether the node closed `fd` (EOF or reset) by now, waiting at most `seconds`.
    func closedByPeer(_ fd: Int32, within seconds: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&p, 1, Int32(seconds * 1000)) == 1 else { return false }
        var b: UInt8 = 0
        return read(fd, &b, 1) <= 0
    }

    func metric(_ c: Cluster, _ i: Int, _ prefix: String) -> Double {
        let m = (try? c.control(i).request(ControlRequest(op: "metrics")))?.metrics ?? ""
        let line = m.split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line?.split(separator: " ").last.flatMap { Double($0) } ?? 0
    }

    func residentKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test("320 silent chat connections from 40 sources and 16 half-sent 8 MiB gossip frames: capped, closed, bounded; control and sessions go on")
    func floodIsCappedAndTheNodeGoesOn() throws {
        var r = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r)
        r.rlim_cur = min(r.rlim_max, 4_096)
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r)
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        // A session before the flood: it must go on through it.
        #expect(try c.send(1, to: "node0", ["before"]).ok)
        #expect(c.until(10) { c.history(1, with: "node0")?.first?.state == "delivered" })
        let pid = c.procs[0]!.process.processIdentifier
        let rssBefore = residentKiB(pid)

        // Silent connections on the chat port (gossip port + 1): 8 from each of 40 sources.
        let chatPort = c.port + 1
        var silent: [Int32] = []
        for s in 0..<40 { for _ in 0..<8 { silent.append(connectFrom("127.0.0.\(10 + s)", to: chatPort)) } }
        defer { for fd in silent where fd >= 0 { close(fd) } }
        // Half-sent gossip frames: an 8 MiB header and 1 MiB of it, from 16 sources.
        var frames: [Int32] = []
        defer { for fd in frames where fd >= 0 { close(fd) } }
        let chunk = [UInt8](repeating: 0xAB, count: 1 << 20)
        for s in 0..<16 {
            let fd = connectFrom("127.0.0.\(60 + s)", to: c.port)
            frames.append(fd)
            guard fd >= 0 else { continue }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let header = withUnsafeBytes(of: UInt32(8 << 20).bigEndian, Array.init)
            _ = (header + chunk).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        #expect(silent.allSatisfy { $0 >= 0 } && frames.allSatisfy { $0 >= 0 }, "the test's own connections")

        // Meanwhile the control API answers and the open session delivers.
        #expect(c.table(0) != nil, "the control API answers during the flood")
        #expect(try c.send(1, to: "node0", ["during"]).ok)
        #expect(c.until(5) { c.history(1, with: "node0")?.first { $0.text == "during" }?.state == "delivered" },
                "a message on the open session is delivered during the flood")
        // Over the caps: refused at once (64 pending in all, 8 per source), counted.
        #expect(c.until(5) { metric(c, 0, "hearsay_listener_refused_total{listener=\"chat\",reason=\"over-pending\"}") >= 200 })
        // The frame budget (32 MiB) holds at most four of them; the others are closed at once.
        #expect(c.until(5) { metric(c, 0, "hearsay_dropped_total{reason=\"frame-budget\"}") >= 12 })
        let grew = residentKiB(pid) - rssBefore
        #expect(grew < 64 * 1024, "the node grew by \(grew / 1024) MiB holding half-sent frames")
        // After the handshake deadline (5 s) every silent connection is closed.
        let start = Date()
        let stillOpen = silent.filter { !closedByPeer($0, within: max(0.05, 8 - Date().timeIntervalSince(start))) }
        #expect(stillOpen.isEmpty, "\(stillOpen.count) silent connections still open after 8 s")
        #expect(c.until(3) { metric(c, 0, "hearsay_listener_refused_total{listener=\"chat\",reason=\"pre-auth-timeout\"}") >= 1 })
        // And the node still sends.
        #expect(try c.send(0, to: "node1", ["after"]).ok)
        #expect(c.until(10) { c.history(0, with: "node1")?.first { $0.text == "after" }?.state == "delivered" })
    }
}
