import Foundation
import HearsayModel
import HearsayNode
import NIOCore
import NIOPosix
import NIOSSL
import NativeTLS
import NativeWire
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Chat between real `hearsay node` processes on 127.0.0.x (`--mdns off`), through the control
/// API as `hearsay send` / `hearsay history` use it.
extension Cluster {
    func control(_ i: Int) -> ControlClient { ControlClient(path: data(i) + "/control.sock") }

    var chatPort: Int { port + 1 }

    @discardableResult
    func send(_ i: Int, to peer: String, _ texts: [String]) throws -> ControlResponse {
        try control(i).request(ControlRequest(op: "send", peer: peer, texts: texts))
    }

    func history(_ i: Int, with peer: String) -> [MessageRow]? {
        guard let r = try? control(i).request(ControlRequest(op: "history", peer: peer)), r.ok else { return nil }
        return r.messages
    }

    /// Polls every 100 ms, at most `seconds`.
    func until(_ seconds: Double, _ condition: () -> Bool) -> Bool { poll(seconds, condition) }

    /// Nodes 0, 1 and 2 (with `extra` flags each), 1 and 2 joining 0; returns once all list all three alive.
    func startThree(_ extra: [[String]] = [[], [], []]) throws {
        for i in 0..<3 { try start(i, join: i == 0 ? nil : 0, extra: extra[i]) }
        #expect(eventually(10, nodes: [0, 1, 2]) { $0.filter { $0.state == "alive" }.count == 3 })
    }

    func log(_ i: Int) -> String { (try? String(contentsOfFile: logPath(i), encoding: .utf8)) ?? "" }

    func identity(_ i: Int) throws -> NodeIdentity { try IdentityStore.loadOrCreate(in: data(i)).0 }
}

/// Texts `prefix 0001` ... in order.
func numbered(_ n: Int, _ prefix: String) -> [String] {
    (1...n).map { i in prefix + " " + String(repeating: "0", count: 4 - String(i).count) + String(i) }
}

@Suite(.serialized, .blockingLane) struct ChatNodeTests {
    @Test("three nodes: simultaneous sessions, messages both ways, in order, delivered")
    func threeNodes() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startThree()
        // Every node talks to both others at once, 20 messages each way, in 4 requests.
        let group = DispatchGroup()
        let errors = Mutex([String]())
        for i in 0..<3 {
            for j in 0..<3 where j != i {
                DispatchQueue.global().async(group: group) {
                    for k in 0..<4 {
                        let texts = (1...5).map { "from \(i) to \(j) #\(k * 5 + $0) ✓ <&>" }
                        if let r = try? c.send(i, to: "node\(j)", texts), r.ok { continue }
                        errors.withLock { $0.append("send \(i)->\(j) failed") }
                    }
                }
            }
        }
        #expect(group.wait(timeout: .now() + 20) == .success)
        #expect(errors.withLock { $0.isEmpty })
        for i in 0..<3 {
            for j in 0..<3 where j != i {
                let done = c.until(10) {
                    guard let h = c.history(i, with: "node\(j)") else { return false }
                    return h.filter { $0.direction == "out" && $0.state == "delivered" }.count == 20
                        && h.filter { $0.direction == "in" }.count == 20
                }
                #expect(done, "conversation \(i) <-> \(j)")
                let h = c.history(i, with: "node\(j)") ?? []
                let incoming = h.filter { $0.direction == "in" }.map(\.text)
                #expect(incoming == (1...20).map { "from \(j) to \(i) #\($0) ✓ <&>" })
                #expect(h.allSatisfy { $0.secure && $0.realm == "hearsay" })
            }
        }
        // The CLI's JSON carries the keys.
        let out = try hearsay(["history", "--data", c.data(1), "node0", "--json"])
        #expect(out.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(out.out.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 40)
        for key in ["id", "from", "to", "text", "sent", "state"] { #expect(rows.first?[key] != nil, "key \(key)") }
        // `hearsay send` by handle, and by id prefix.
        let id2 = try c.identity(2).id.base32
        let byID = try hearsay(["send", "--data", c.data(0), String(id2.prefix(6)), "by id"])
        #expect(byID.status == 0)
        #expect(byID.out.contains("queued"))
        #expect(c.until(5) { c.history(2, with: "node0")?.last?.text == "by id" })
    }

    @Test("an unknown or ambiguous peer is a clear error and queues nothing")
    func unknownAndAmbiguousPeers() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.start(0, join: nil)
        try c.start(1, handle: "twin")
        try c.start(2, handle: "twin")
        #expect(c.eventually(10, nodes: [0]) { $0.filter { $0.state == "alive" }.count == 3 })
        let ambiguous = try hearsay(["send", "--data", c.data(0), "twin", "hello"])
        #expect(ambiguous.status == 1)
        #expect(ambiguous.err.contains("2 people are called twin"))
        let unknown = try hearsay(["send", "--data", c.data(0), "nobody", "hello"])
        #expect(unknown.status == 1)
        #expect(unknown.err.contains("nobody called nobody"))
        let empty = try hearsay(["send", "--data", c.data(0), String(try c.identity(1).id.base32.prefix(8)), ""])
        #expect(empty.status == 1)
        let conversations = try c.control(0).request(ControlRequest(op: "conversations"))
        #expect(conversations.people?.isEmpty == true)
    }

    @Test("policies: friends declines strangers, ask waits in hearsay requests until accepted or declined")
    func policies() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startThree([["--policy", "friends"], [], ["--policy", "ask"]])
        func requests(_ i: Int) -> [RequestRow] { (try? c.control(i).request(ControlRequest(op: "requests")))?.requests ?? [] }

        // friends: node1 is a stranger to node0 and is declined; nothing reaches node0's history.
        #expect(try c.send(1, to: "node0", ["let me in"]).ok)
        #expect(c.until(5) { c.log(1).contains("node0 declined the session") })
        #expect(c.history(0, with: "node1") == [])
        #expect(c.history(1, with: "node0")?.map(\.state) == ["queued"])
        // Once a friend, what waited goes with the next message, in order.
        #expect(try hearsay(["friends", "--data", c.data(0), "add", "node1"]).status == 0)
        #expect(try hearsay(["friends", "--data", c.data(0), "list"]).out.contains("node1"))
        #expect(try c.send(1, to: "node0", ["now?"]).ok)
        #expect(c.until(5) { c.history(0, with: "node1")?.map(\.text) == ["let me in", "now?"] })

        // ask: node1's request waits at node2 until its user accepts.
        #expect(try c.send(1, to: "node2", ["may I?"]).ok)
        #expect(c.until(5) { requests(2).map(\.handle) == ["node1"] })
        #expect(try hearsay(["requests", "--data", c.data(2)]).out.contains("node1"))
        #expect(c.history(2, with: "node1") == [])
        #expect(try hearsay(["requests", "--data", c.data(2), "accept", "node1"]).status == 0)
        #expect(c.until(5) { c.history(2, with: "node1")?.map(\.text) == ["may I?"] })
        #expect(c.until(5) { c.history(1, with: "node2")?.map(\.state) == ["delivered"] })

        // ask, declined: node0 is refused and nothing reaches node2's history.
        #expect(try c.send(0, to: "node2", ["hello?"]).ok)
        #expect(c.until(5) { requests(2).map(\.handle) == ["node0"] })
        #expect(try hearsay(["requests", "--data", c.data(2), "decline", "node0"]).status == 0)
        #expect(c.until(5) { c.log(0).contains("node2 declined the session") })
        #expect(c.history(2, with: "node0") == [])
        #expect(c.history(0, with: "node2")?.map(\.state) == ["queued"])
        #expect(requests(2).isEmpty)
    }

    @Test("the receiver is killed with 1,000 messages in flight: after its restart all arrive once, in order")
    func receiverCrash() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        let texts = numbered(1_000, "m")
        // 20 requests of 50 back to back; the receiver is killed right after the 10th returns,
        // while those messages are on the wire or being stored and acked.
        var queued = 0
        for k in 0..<20 {
            let r = try c.send(0, to: "node1", Array(texts[k * 50..<(k + 1) * 50]))
            queued += r.messages?.count ?? 0
            if k == 9 { c.kill9(1) }
        }
        #expect(queued == 1_000)
        let before = c.history(0, with: "node1")?.filter { $0.state == "delivered" }.count ?? -1
        #expect(before < 1_000, "some messages must still be in flight when the receiver dies (\(before) delivered)")
        try c.start(1)
        let delivered = c.until(30) { c.history(0, with: "node1")?.allSatisfy { $0.state == "delivered" } ?? false }
        #expect(delivered)
        let received = c.history(1, with: "node0")?.map(\.text) ?? []
        #expect(received.count == 1_000)
        #expect(received == texts)
        #expect(Set(c.history(1, with: "node0")?.map(\.id) ?? []).count == 1_000)
    }

    @Test("the sender is killed with a full outbox: after its restart the outbox is delivered")
    func senderCrash() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        c.kill9(1)  // the receiver is away: everything waits in the sender's outbox
        let texts = numbered(200, "queued")
        #expect(try c.send(0, to: "node1", texts).ok)
        #expect(c.history(0, with: "node1")?.filter { $0.state == "queued" }.count == 200)
        c.kill9(0)
        try c.start(1, join: nil)
        try c.start(0, join: 1)
        let delivered = c.until(30) {
            guard let h = c.history(0, with: "node1") else { return false }
            return h.count == 200 && h.allSatisfy { $0.state == "delivered" }
        }
        #expect(delivered)
        #expect(c.history(1, with: "node0")?.map(\.text) == texts)
    }

    @Test("an impostor at a peer's address, and one dialing in with another key, are refused; nothing reaches history")
    func impostor() async throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        #expect(try c.send(0, to: "node1", ["real"]).ok)
        #expect(c.until(5) { c.history(1, with: "node0")?.count == 1 })
        c.kill9(1)
        // Another key listens where node1's chat port was.
        var rng = SeededRandom(seed: 0xBAD)
        let fake = NodeIdentity.deterministic(using: &rng)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await Impostor.listen(fake, port: c.chatPort, on: group)
        #expect(try c.send(0, to: "node1", ["for node1 only"]).ok)
        #expect(c.until(5) { c.log(0).contains("chat connection refused") })
        #expect(c.history(0, with: "node1")?.last?.state == "queued")
        // It dials node0 and says it is node1: TLS proves another key, which node0's table lacks.
        let refused = try await Impostor.dialAndSend(fake, claiming: try c.identity(1).id, port: c.chatPort, host: "127.0.0.1", on: group)
        #expect(refused)
        #expect(c.history(0, with: "node1")?.filter { $0.direction == "in" }.isEmpty == true)
        #expect(c.log(0).contains("is not in the table with this key"))
        // Refusals are counted (both ways; node0 also retried its dials to the impostor).
        #expect(c.until(3) {
            let m = (try? c.control(0).request(ControlRequest(op: "metrics")))?.metrics ?? ""
            let line = m.split(separator: "\n").first { $0.hasPrefix("hearsay_chat_total{event=\"refused\"}") }
            return (line?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 2
        })
        try await listener.close()
        try await group.shutdownGracefully()
    }

    @Test("bad frames close that one connection with a logged reason; the node and its other sessions go on")
    func badFrames() async throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startThree()
        #expect(try c.send(2, to: "node0", ["before"]).ok)
        #expect(c.until(5) { c.history(0, with: "node2")?.count == 1 })
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let me = try c.identity(1)  // a real member's key: TLS lets it in, then it misbehaves
        let hello = NativeCodec.frame(.hello(minVersion: 1, maxVersion: 1, node: me.id))
        let cases: [(String, [UInt8])] = [
            ("unknown type", hello + [0, 0, 0, 2, 0x7f, 0]),
            ("oversized length", hello + [0xff, 0xff, 0xff, 0xf0]),
            ("garbage payload", hello + [0, 0, 0, 5, 0x20, 1, 2, 3, 4]),
            ("message before hello", NativeCodec.frame(.ping(1)) + NativeCodec.frame(.sessionAccept)),
        ]
        for (name, bytes) in cases {
            let closed = try await Impostor.tls(me, port: c.chatPort, host: "127.0.0.1", send: bytes, on: group)
            #expect(closed, "\(name): node0 must close the connection")
        }
        // Not TLS at all, and TLS cut short.
        #expect(try await Impostor.raw(port: c.chatPort, host: "127.0.0.1", send: Array("GET / HTTP/1.0\r\n\r\n".utf8), on: group))
        #expect(try await Impostor.raw(port: c.chatPort, host: "127.0.0.1", send: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00], hangUp: true, on: group))
        try await group.shutdownGracefully()
        #expect(c.until(3) { c.log(0).contains("bad frame") })
        // node0 is up; its session with node2 goes on, and node1 (the real node) still gets through.
        #expect(try c.send(2, to: "node0", ["after"]).ok)
        #expect(try c.send(1, to: "node0", ["from the real node1"]).ok)
        #expect(c.until(5) { c.history(0, with: "node2")?.map(\.text) == ["before", "after"] })
        #expect(c.until(5) { c.history(0, with: "node1")?.map(\.text) == ["from the real node1"] })
        #expect(c.table(0)?.count == 3)
    }
}

/// A misbehaving peer for the tests above, on raw NIO.
enum Impostor {
    /// Records whether the channel went inactive.
    final class Watch: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let inactive: EventLoopPromise<Void>
        init(_ p: EventLoopPromise<Void>) { inactive = p }
        func channelInactive(context: ChannelHandlerContext) {
            inactive.succeed(())
            context.fireChannelInactive()
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
    }

    /// Waits at most `seconds` for `future`.
    static func within(_ seconds: Int64, _ future: EventLoopFuture<Void>, on loop: EventLoop) async -> Bool {
        let timeout = loop.makePromise(of: Void.self)
        let t = loop.scheduleTask(in: .seconds(seconds)) { timeout.fail(ChannelError.connectTimeout(.seconds(seconds))) }
        future.cascade(to: timeout)
        do {
            try await timeout.futureResult.get()
            t.cancel()
            return true
        } catch { return false }
    }

    /// A TLS server with `identity`'s certificate that accepts any client and stores nothing.
    static func listen(_ identity: NodeIdentity, port: Int, on group: EventLoopGroup) async throws -> Channel {
        let ctx = try IdentityTLS.serverContext(identity)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: ctx, customVerificationCallback: { _, p in p.succeed(.certificateVerified) }))
                }
            }
            .bind(host: "127.0.0.2", port: port).get()
    }

    /// Dials `port` with `identity`'s key, sends a hello naming `claiming`, a session request and
    /// a message; true if the node closed the connection.
    static func dialAndSend(_ identity: NodeIdentity, claiming: NodeID, port: Int, host: String, on group: EventLoopGroup) async throws -> Bool {
        let m = ChatMessage(id: MessageID(hi: 1, lo: 1), sender: claiming, sentAtMillis: 0, text: "I am node1")
        let bytes = NativeCodec.frame(.hello(minVersion: 1, maxVersion: 1, node: claiming)) + NativeCodec.frame(.sessionRequest(handle: "node1"))
            + NativeCodec.frame(.message(m))
        return try await tls(identity, port: port, host: host, send: bytes, on: group)
    }

    /// A TLS client with `identity`'s certificate that sends `bytes` once the handshake is done
    /// (or fails); true if the connection is closed within 3 s.
    static func tls(_ identity: NodeIdentity, port: Int, host: String, send bytes: [UInt8], on group: EventLoopGroup) async throws -> Bool {
        let ctx = try IdentityTLS.clientContext(identity)
        let loop = group.next()
        let inactive = loop.makePromise(of: Void.self)
        let ch = try await ClientBootstrap(group: loop)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: ctx, serverHostname: nil, customVerificationCallback: { _, p in p.succeed(.certificateVerified) }))
                    try ch.pipeline.syncOperations.addHandler(Watch(inactive))
                }
            }
            .connect(host: host, port: port).get()
        var b = ch.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        ch.writeAndFlush(b, promise: nil)
        let closed = await within(3, inactive.futureResult, on: loop)
        try? await ch.close()
        return closed
    }

    /// Plain TCP: sends `bytes` (and hangs up if asked); true if the node closed it, or it was
    /// hung up, within 3 s.
    static func raw(port: Int, host: String, send bytes: [UInt8], hangUp: Bool = false, on group: EventLoopGroup) async throws -> Bool {
        let loop = group.next()
        let inactive = loop.makePromise(of: Void.self)
        let ch = try await ClientBootstrap(group: loop)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Watch(inactive)) } }
            .connect(host: host, port: port).get()
        var b = ch.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        try await ch.writeAndFlush(b)
        if hangUp { try await ch.close() }
        return await within(3, inactive.futureResult, on: loop)
    }
}
