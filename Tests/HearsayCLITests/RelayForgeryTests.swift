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

/// A relayed message is taken only from the node the table says observes its user (issue 11,
/// finding 7): a peer with a session that says "from carol@pc" is refused, nothing stored.
@Suite(.serialized, .blockingLane) struct RelayForgeryTests {
    @Test("a relay frame from a peer that does not observe its user is nacked, not stored, logged and counted")
    func aForgedRelayIsRefused() async throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        let me = try c.identity(1)  // a real member's key: TLS and the session let it in
        // Only the test speaks for node 1 now (its own connections to node 0 raced the test's and
        // could close it under load); node 0 still lists it alive.
        c.kill9(1)
        let forged = ChatMessage(id: MessageID(hi: 0xF0, lo: 1), sender: me.id, sentAtMillis: 1_795_590_000_000,
                                 text: "hi, it's carol")
        let bytes = NativeCodec.frame(.hello(minVersion: 1, maxVersion: 2, node: me.id))
            + NativeCodec.frame(.sessionRequest(handle: "node1"))
            + NativeCodec.frame(.relay(realm: "xmpp-ll", user: "carol@pc", message: forged))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Under a loaded fresh-clone run the node was seen to close the connection before the write
        // completed ("I/O on closed channel", cause not pinned down): up to three attempts.
        var answers = [NativeMessage]()
        for attempt in 1...3 {
            do {
                answers = try await FrameClient.exchange(me, port: c.chatPort, host: "127.0.0.1", send: bytes, seconds: 5,
                                                         until: { $0.contains { if case .nack = $0 { true } else { false } } }, on: group)
                break
            } catch where attempt < 3 {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        try await group.shutdownGracefully()
        #expect(answers.contains { if case .nack(forged.id, _, _) = $0 { true } else { false } }, "\(answers)")
        #expect(!answers.contains(.ack(forged.id)))
        #expect(c.until(3) { c.log(0).contains("refused 1 relayed message(s) from node1") })
        #expect(c.log(0).contains("the table has no such user"))
        let people = try c.control(0).request(ControlRequest(op: "conversations")).people ?? []
        #expect(people.isEmpty, "nothing stored: \(people.map(\.handle))")
        #expect(c.history(0, with: "carol@pc") == nil)
        #expect(c.until(3) {
            let m = (try? c.control(0).request(ControlRequest(op: "metrics")))?.metrics ?? ""
            let line = m.split(separator: "\n").first { $0.hasPrefix("hearsay_chat_total{event=\"relay-refused\"}") }
            return (line?.split(separator: " ").last.flatMap { Double($0) } ?? 0) == 1
        })
    }
}

/// A TLS client with a node's key that sends bytes and collects the frames the node answers.
enum FrameClient {
    final class Collect: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let frames = Mutex([NativeMessage]())
        var decoder = NativeFrameDecoder()
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            decoder.feed(b.readBytes(length: b.readableBytes) ?? [])
            while let p = try? decoder.next() {
                if let m = try? NativeCodec.decode(p) { frames.withLock { $0.append(m) } }
            }
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
    }

    /// Sends `bytes` once TLS is up; returns the frames received once `until` holds of them, or
    /// after `seconds`.
    static func exchange(_ identity: NodeIdentity, port: Int, host: String, send bytes: [UInt8], seconds: Double,
                         until: ([NativeMessage]) -> Bool, on group: EventLoopGroup) async throws -> [NativeMessage] {
        let ctx = try IdentityTLS.clientContext(identity)
        let collect = Collect()
        let ch = try await ClientBootstrap(group: group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: ctx, serverHostname: nil, customVerificationCallback: { _, p in p.succeed(.certificateVerified) }))
                    try ch.pipeline.syncOperations.addHandler(collect)
                }
            }
            .connect(host: host, port: port).get()
        var b = ch.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        try await ch.writeAndFlush(b)
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline, !until(collect.frames.withLock { $0 }) {
            try await Task.sleep(for: .milliseconds(100))  // a bounded poll, as everywhere in these tests
        }
        try? await ch.close()
        return collect.frames.withLock { $0 }
    }
}
