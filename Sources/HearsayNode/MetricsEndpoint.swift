import ListenerLimits
import NIOCore
import NIOHTTP1
import NIOPosix

/// `hearsay node --metrics ADDR:PORT`: serves `GET /metrics` in the Prometheus text format for a
/// Prometheus server to scrape. Off by default; bind it to loopback or a management network.
final class MetricsEndpoint: @unchecked Sendable {
    static func bind(_ address: SocketAddress, on loop: EventLoop, metrics: NodeMetrics, admission: Admission) async throws -> Channel {
        try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard admission.admit(channel) else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
            .bind(to: address).get()
    }
}

/// Answers `GET /metrics`. A connection gets at most `maxRequests` answers, the last with
/// `Connection: close`; requests pipelined past it are not read (30,000 pipelined GETs used to
/// hold the loop for seconds, issue 11).
final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let maxRequests = 16
    let metrics: NodeMetrics
    private var head: HTTPRequestHead?
    private var answered = 0

    init(metrics: NodeMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let h = head, answered < Self.maxRequests else { return }
            answered += 1
            Admission.passed(context.channel)
            let last = answered == Self.maxRequests
            let ok = h.method == .GET && (h.uri == "/metrics" || h.uri.hasPrefix("/metrics?"))
            let body = ok ? metrics.text() : "not found: GET /metrics\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: ok ? "text/plain; version=0.0.4" : "text/plain")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            if last { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: ok ? .ok : .notFound, headers: headers))), promise: nil)
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            let sent = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if last { sent.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
            head = nil
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
