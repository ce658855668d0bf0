import HearsayModel
import NIOCore
import NIOPosix
import NIOSSL
import NativeTLS
import Synchronization
import Testing

/// Real TLS 1.3 handshakes over loopback (127.0.0.1, an ephemeral port): nodes prove their
/// identity with their own keys, and an impostor is refused by whichever side checks it.
@Suite struct IdentityTLSTests {
    static func identity(_ i: UInt64) -> NodeIdentity {
        var rng = SeededRandom(seed: 0x715 + i)
        return NodeIdentity.deterministic(using: &rng)
    }

    /// Echoes what it reads.
    final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(data, promise: nil)
        }
    }

    /// Collects what it reads until `expected` bytes arrived.
    final class Collect: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let done: EventLoopPromise<[UInt8]>
        let expected: Int
        var got: [UInt8] = []
        init(_ done: EventLoopPromise<[UInt8]>, expected: Int) {
            self.done = done
            self.expected = expected
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            got += Array(buffer: unwrapInboundIn(data))
            if got.count >= expected { done.succeed(got) }
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) {
            done.fail(error)
            context.close(promise: nil)
        }
        func channelInactive(context: ChannelHandlerContext) {
            done.fail(ChannelError.eof)
        }
    }

    struct Outcome {
        let serverSaw: Result<NodeID, IdentityTLS.Failure>?
        let clientSaw: Result<NodeID, IdentityTLS.Failure>?
        let echoed: [UInt8]?
    }

    /// `server` listens; `client` dials expecting `expect`; the server knows the nodes `serverKnows`.
    func handshake(server: NodeIdentity, client: NodeIdentity, expect: NodeID, serverKnows: Set<NodeID>) async throws -> Outcome {
        let group = MultiThreadedEventLoopGroup.singleton
        let serverSaw = Mutex<Result<NodeID, IdentityTLS.Failure>?>(nil)
        let clientSaw = Mutex<Result<NodeID, IdentityTLS.Failure>?>(nil)
        let serverContext = try IdentityTLS.serverContext(server)
        let clientContext = try IdentityTLS.clientContext(client)
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { ch in
                let verify = IdentityTLS.verifier(expected: nil, known: { id, _ in serverKnows.contains(id) }) { r in
                    serverSaw.withLock { $0 = r }
                }
                return ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        NIOSSLServerHandler(context: serverContext, customVerificationCallback: verify))
                    try ch.pipeline.syncOperations.addHandler(Echo())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let payload = Array("hello over TLS".utf8)
        let done = group.next().makePromise(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { ch in
                let verify = IdentityTLS.verifier(expected: expect, known: { _, _ in true }) { r in
                    clientSaw.withLock { $0 = r }
                }
                return ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: clientContext, serverHostname: nil, customVerificationCallback: verify))
                    try ch.pipeline.syncOperations.addHandler(Collect(done, expected: payload.count))
                }
            }
            .connect(to: listener.localAddress!).get()
        var buf = channel.allocator.buffer(capacity: payload.count)
        buf.writeBytes(payload)
        channel.writeAndFlush(buf, promise: nil)
        let echoed: [UInt8]?
        do { echoed = try await done.futureResult.get() } catch { echoed = nil }  // refused handshakes end here
        try? await channel.close()
        try? await listener.close()
        return Outcome(serverSaw: serverSaw.withLock { $0 }, clientSaw: clientSaw.withLock { $0 }, echoed: echoed)
    }

    @Test func theCertificateCarriesTheIdentityKey() throws {
        let a = Self.identity(1)
        let (cert, _) = try IdentityTLS.credentials(for: a)
        let peer = try IdentityTLS.peer(of: cert)
        #expect(peer.id == a.id)
        #expect(peer.publicKey == a.publicKey)
    }

    @Test func twoKnownNodesTalk() async throws {
        let a = Self.identity(1), b = Self.identity(2)
        let o = try await handshake(server: a, client: b, expect: a.id, serverKnows: [b.id])
        #expect(o.echoed == Array("hello over TLS".utf8))
        #expect(try o.clientSaw?.get() == a.id)
        #expect(try o.serverSaw?.get() == b.id)
    }

    @Test func aServerWithAnotherKeyThanExpectedIsRefusedByTheDialer() async throws {
        let a = Self.identity(1), b = Self.identity(2), impostor = Self.identity(3)
        // The dialer wants node a; the listener holds the impostor's key.
        let o = try await handshake(server: impostor, client: b, expect: a.id, serverKnows: [b.id])
        #expect(o.echoed == nil)
        guard case .failure(let f)? = o.clientSaw else { Issue.record("the dialer accepted: \(String(describing: o.clientSaw))"); return }
        #expect(f.description.contains("expected node \(a.id.short)"))
    }

    @Test func aDialerTheListenerDoesNotKnowIsRefused() async throws {
        let a = Self.identity(1), stranger = Self.identity(4)
        let o = try await handshake(server: a, client: stranger, expect: a.id, serverKnows: [])
        #expect(o.echoed == nil)
        guard case .failure(let f)? = o.serverSaw else { Issue.record("the listener accepted: \(String(describing: o.serverSaw))"); return }
        #expect(f.description.contains("not in the table"))
    }
}
