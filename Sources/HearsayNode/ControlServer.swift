#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import GossipNIO
import HearsayModel
import NIOCore
import NIOPosix

/// Serves the control API on a Unix socket. Only the owner of the data directory (mode 0700)
/// can reach it: the file system does the authentication, no token to leak.
final class ControlServer: @unchecked Sendable {
    let shell: GossipShell
    let metrics: NodeMetrics
    private var watchers: [ObjectIdentifier: Channel] = [:]  // on the shell's loop
    /// Answers the `discovery` op (set by the node before the socket is bound).
    var discoveryReport: (@Sendable () async -> DiscoveryReport)?

    init(shell: GossipShell, metrics: NodeMetrics) {
        self.shell = shell
        self.metrics = metrics
    }

    func bind(path: String) async throws -> Channel {
        try? FileManager.default.removeItem(atPath: path)
        let channel = try await ServerBootstrap(group: shell.loop)
            .childChannelInitializer { channel in
                do {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(LineDecoder(maxLength: 64 * 1024)),
                        ControlHandler(server: self),
                    ])
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(unixDomainSocketPath: path).get()
        chmod(path, 0o600)
        return channel
    }

    /// Sends a change to every `watch` client (on the shell's loop).
    func broadcast(_ row: TableRow) {
        let bytes = ControlJSON.encode(row)
        for c in watchers.values {
            var b = c.allocator.buffer(capacity: bytes.count)
            b.writeBytes(bytes)
            c.writeAndFlush(b, promise: nil)
        }
    }

    func handle(_ line: [UInt8], on channel: Channel) {
        guard let req = try? JSONDecoder().decode(ControlRequest.self, from: Data(line)) else {
            return reply(ControlResponse(ok: false, error: "not a JSON control request"), on: channel)
        }
        Task {
            let response = await self.respond(req, channel: channel)
            if let response { self.reply(response, on: channel) }
        }
    }

    private func respond(_ req: ControlRequest, channel: Channel) async -> ControlResponse? {
        switch req.op {
        case "table":
            guard let (inst, _) = try? await shell.snapshot() else { return ControlResponse(ok: false, error: "node stopping") }
            let now = shell.now
            return ControlResponse(ok: true, rows: inst.table.sortedRows().map { TableRow($0, now: now) }, node: inst.id.base32)
        case "members":
            guard let (inst, _) = try? await shell.snapshot() else { return ControlResponse(ok: false, error: "node stopping") }
            let rows = inst.table.sortedRows().filter(\.isNode).map { m in
                MemberRow(
                    id: m.id.base32, handle: m.entry.entry.handle,
                    address: m.entry.entry.gossipAddress?.description ?? "-", state: m.state.description,
                    incarnation: m.entry.version.incarnation, health: m.id == inst.id ? inst.awareness : nil,
                    rtt_ms: inst.lastProbeRTT[m.id].map { $0.seconds * 1000 })
            }
            return ControlResponse(ok: true, members: rows, node: inst.id.base32)
        case "status":
            guard let name = req.status, let status = PresenceStatus(name: name), status != .offline else {
                return ControlResponse(ok: false, error: "status is one of available, away, busy")
            }
            do {
                let text = req.text
                try await shell.act { inst, now in ((), try inst.setStatus(status, text: text, now: now)) }
                return ControlResponse(ok: true)
            } catch {
                return ControlResponse(ok: false, error: "\(error)")
            }
        case "stats":
            guard let (inst, wire) = try? await shell.snapshot() else { return ControlResponse(ok: false, error: "node stopping") }
            var r = ControlResponse(ok: true, node: inst.id.base32)
            r.gossip = inst.stats
            r.wire = wire
            return r
        case "metrics":
            var r = ControlResponse(ok: true)
            r.metrics = metrics.text()
            return r
        case "discovery":
            guard let report = discoveryReport else { return ControlResponse(ok: false, error: "no discovery report") }
            var r = ControlResponse(ok: true)
            r.discovery = await report()
            return r
        case "watch":
            let id = ObjectIdentifier(channel)
            shell.loop.execute {
                self.watchers[id] = channel
                channel.closeFuture.whenComplete { _ in self.shell.loop.execute { self.watchers[id] = nil } }
            }
            return nil
        default:
            return ControlResponse(ok: false, error: "unknown op \(req.op): table, members, status, stats, metrics, discovery, watch")
        }
    }

    private func reply(_ r: ControlResponse, on channel: Channel) {
        let bytes = ControlJSON.encode(r)
        var b = channel.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        channel.writeAndFlush(b, promise: nil)
    }
}

/// Splits a byte stream at newlines; a line longer than `maxLength` closes the connection.
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    let maxLength: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let nl = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > maxLength { throw LineTooLong() }
            return .needMoreData
        }
        let length = nl - buffer.readerIndex
        let line = buffer.readBytes(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

struct LineTooLong: Error {}

final class ControlHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = [UInt8]
    let server: ControlServer

    init(server: ControlServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        server.handle(unwrapInboundIn(data), on: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
