import Foundation
import HearsayModel
import HearsayNode
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A receiver whose disk is full (issue 11, finding 9): it logs and counts the failed writes,
/// nacks what it could not store, and the sender keeps those in its outbox and sends them again
/// as soon as the receiver can store: nothing lost, nothing duplicated.
///
/// The full disk is a file-size limit (RLIMIT_FSIZE) on the receiver's process, with SIGXFSZ
/// ignored: its writes past the limit fail as on a full disk, and `prlimit --pid` lifts it.
@Suite(.serialized, .blockingLane) struct StoreFullNodeTests {
    /// Starts node `i` (joining node 0) with writes beyond `bytes` failing.
    func startLimited(_ c: Cluster, _ i: Int, bytes: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        // An ignored signal stays ignored across exec: the node gets EFBIG instead of dying.
        p.arguments = ["-c", "trap '' XFSZ; exec prlimit --fsize=\(bytes):unlimited -- \"$@\"", "sh", try hearsayExecutable(),
                       "node", "--data", c.data(i), "--handle", "node\(i)", "--bind", c.address(i), "--mdns", "off",
                       "--join", c.address(0)]
        p.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: c.logPath(i), contents: nil)
        p.standardError = FileHandle(forWritingAtPath: c.logPath(i))
        try p.run()
        c.procs[i] = Cluster.Proc(process: p, data: c.data(i), address: c.address(i))
    }

    func metric(_ c: Cluster, _ i: Int, _ prefix: String) -> Double {
        let m = (try? c.control(i).request(ControlRequest(op: "metrics")))?.metrics ?? ""
        let line = m.split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line?.split(separator: " ").last.flatMap { Double($0) } ?? 0
    }

    @Test("the receiver's disk fills: logged, counted, nacked; the outbox goes once it has room, in order, once each")
    func diskFullThenRoom() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else {
            Issue.record("prlimit (util-linux) is needed to simulate a full disk")
            return
        }
        let c = Cluster()
        defer { c.stopAll() }
        try c.start(0, join: nil)
        try startLimited(c, 1, bytes: 1_500_000)
        #expect(c.eventually(10, nodes: [0, 1]) { $0.filter { $0.state == "alive" }.count == 2 })
        // 3 MB of messages: more than the receiver can write.
        let texts = (1...375).map { String(format: "%04d ", $0) + String(repeating: "x", count: 8_000) }
        for k in 0..<15 { #expect(try c.send(0, to: "node1", Array(texts[k * 25..<(k + 1) * 25])).ok) }
        #expect(c.until(20) { c.log(1).contains("chat store write failed") }, "the receiver logs the failed write")
        #expect(c.until(5) { metric(c, 1, "hearsay_chat_store_failures_total") >= 1 })
        #expect(c.until(5) { metric(c, 0, "hearsay_chat_total{event=\"refused-by-peer\"}") >= 1 }, "the sender is told")
        let queued = c.history(0, with: "node1")?.filter { $0.state == "queued" }.count ?? 0
        #expect(queued > 0, "some messages wait in the sender's outbox")
        // Room again: everything arrives, in order, once.
        let pid = c.procs[1]!.process.processIdentifier
        #expect(try runToEnd(["/usr/bin/prlimit", "--pid", "\(pid)", "--fsize=unlimited"]).status == 0)
        let delivered = c.until(30) { c.history(0, with: "node1")?.allSatisfy { $0.state == "delivered" } ?? false }
        #expect(delivered)
        let received = c.history(1, with: "node0") ?? []
        #expect(received.count == texts.count)
        #expect(Set(received.map(\.id)).count == texts.count, "no duplicate")
        #expect(received.map(\.text) == texts, "in order")
        #expect(c.log(1).contains("chat store writes again"))
    }
}
