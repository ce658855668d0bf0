import NIOCore
import NIOPosix

// The floor: plain TCP on 127.0.0.1 between two event loops of this process (one for the
// server, one for the client, as the two chat nodes have one each), with frames of the chat
// texts' size (a 4-byte length + 64 bytes). No TLS, no store, no protocol.

/// Splits the stream into frames: a 4-byte big-endian length, then that many bytes.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            buffer.readableBytes >= 4 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        .needMoreData
    }
}

/// A frame of `payload` bytes, as a chat text of that size would be framed.
func rawFrame(payload: Int) -> ByteBuffer {
    var b = ByteBufferAllocator().buffer(capacity: 4 + payload)
    b.writeInteger(UInt32(payload))
    b.writeRepeatingByte(UInt8(ascii: "x"), count: payload)
    return b
}

/// Server side of the ping-pong: sends every frame back.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        var out = context.channel.allocator.buffer(capacity: 4 + frame.readableBytes)
        out.writeInteger(UInt32(frame.readableBytes))
        out.writeImmutableBuffer(frame)
        context.write(Self.wrapOutboundOut(out), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

/// Server side of the stream: counts frames, and after each read acknowledges the total so far
/// (an 8-byte frame), as the chat receiver acks what one read brought once it is stored.
final class CountingAcker: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var received: UInt64 = 0
    var acked: UInt64 = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { received += 1 }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard received != acked else { return }
        acked = received
        var out = context.channel.allocator.buffer(capacity: 12)
        out.writeInteger(UInt32(8))
        out.writeInteger(received)
        context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
    }
}

struct RawResult: Sendable {
    var latencies: Latencies
    var messages: Int
    var seconds: Double
}

/// Client side of the ping-pong: one frame outstanding; records each round trip after `warmup`.
final class PingClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let frame: ByteBuffer
    let recordFrom: UInt64
    let deadline: UInt64
    let done: EventLoopPromise<RawResult>
    var sentAt: UInt64 = 0
    var latencies = newLatencies()
    var count = 0
    var first: UInt64 = 0
    var last: UInt64 = 0

    init(frame: ByteBuffer, warmup: UInt64, seconds: UInt64, done: EventLoopPromise<RawResult>) {
        self.frame = frame
        let now = nowNanos()
        recordFrom = now + warmup
        deadline = now + warmup + seconds
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) { ping(context) }

    func ping(_ context: ChannelHandlerContext) {
        sentAt = nowNanos()
        context.writeAndFlush(Self.wrapOutboundOut(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = nowNanos()
        if sentAt >= recordFrom {
            if first == 0 { first = sentAt }
            latencies.record(now - sentAt)
            count += 1
            last = now
        }
        if now < deadline { return ping(context) }
        done.succeed(RawResult(latencies: latencies, messages: count, seconds: Double(last - first) / 1e9))
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        done.fail(error)
        context.close(promise: nil)
    }
}

/// Client side of the stream: keeps up to `window` frames unacknowledged, writing as fast as
/// acks free room; a frame's latency is from its write to the ack covering it.
final class StreamClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let frame: ByteBuffer
    let window: Int
    let deadline: UInt64
    let done: EventLoopPromise<RawResult>
    var sentTimes: [UInt64]
    var sent = 0
    var acked = 0
    var first: UInt64 = 0
    var last: UInt64 = 0
    var stopping = false
    var latencies = newLatencies()

    init(frame: ByteBuffer, window: Int, seconds: UInt64, done: EventLoopPromise<RawResult>) {
        self.frame = frame
        self.window = window
        deadline = nowNanos() + seconds
        sentTimes = Array(repeating: 0, count: window)
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        first = nowNanos()
        fill(context)
    }

    func fill(_ context: ChannelHandlerContext) {
        let now = nowNanos()
        if now >= deadline { stopping = true }
        if stopping {
            guard acked == sent else { return }
            done.succeed(RawResult(latencies: latencies, messages: acked, seconds: Double(last - first) / 1e9))
            context.close(promise: nil)
            return
        }
        var wrote = false
        while sent - acked < window {
            sentTimes[sent % window] = now
            context.write(Self.wrapOutboundOut(frame), promise: nil)
            sent += 1
            wrote = true
        }
        if wrote { context.flush() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = Self.unwrapInboundIn(data)
        guard let total = b.readInteger(as: UInt64.self) else { return }
        let now = nowNanos()
        while acked < Int(total) {
            latencies.record(now - sentTimes[acked % window])
            acked += 1
        }
        last = now
        fill(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        done.fail(error)
        context.close(promise: nil)
    }
}

enum RawTCP {
    /// A server on 127.0.0.1 (any port) with `server` as the last handler, a client connected to
    /// it with `client`; returns what the client reports.
    static func run(
        server: @escaping @Sendable () -> any ChannelHandler,
        client: @escaping @Sendable (EventLoopPromise<RawResult>) -> any ChannelHandler
    ) async throws -> RawResult {
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let r = try await run(server: server, client: client, serverGroup: serverGroup, clientGroup: clientGroup)
            try? await serverGroup.shutdownGracefully()
            try? await clientGroup.shutdownGracefully()
            return r
        } catch {
            try? await serverGroup.shutdownGracefully()
            try? await clientGroup.shutdownGracefully()
            throw error
        }
    }

    static func run(
        server: @escaping @Sendable () -> any ChannelHandler,
        client: @escaping @Sendable (EventLoopPromise<RawResult>) -> any ChannelHandler,
        serverGroup: MultiThreadedEventLoopGroup, clientGroup: MultiThreadedEventLoopGroup
    ) async throws -> RawResult {
        let listener = try await ServerBootstrap(group: serverGroup)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(server())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress?.port ?? 0
        let done = clientGroup.next().makePromise(of: RawResult.self)
        let connection = try await ClientBootstrap(group: clientGroup)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(client(done))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let result = try await done.futureResult.get()
        try? await connection.close()
        try? await listener.close()
        return result
    }

    static func pingPong(payload: Int, seconds: Double) async throws -> RawResult {
        let frame = rawFrame(payload: payload)
        return try await run(server: { EchoHandler() }) { done in
            PingClient(frame: frame, warmup: 200_000_000, seconds: UInt64(seconds * 1e9), done: done)
        }
    }

    static func stream(payload: Int, window: Int, seconds: Double) async throws -> RawResult {
        let frame = rawFrame(payload: payload)
        return try await run(server: { CountingAcker() }) { done in
            StreamClient(frame: frame, window: window, seconds: UInt64(seconds * 1e9), done: done)
        }
    }
}
