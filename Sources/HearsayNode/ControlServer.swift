#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Gossip
import GossipNIO
import HearsayModel
import ListenerLimits
import NIOCore
import NIOPosix

/// Serves the control API on a Unix socket. Only the owner of the data directory (mode 0700)
/// can reach it: the file system does the authentication, no token to leak.
final class ControlServer: @unchecked Sendable {
    let shell: GossipShell
    let metrics: NodeMetrics
    private var watchers: [ObjectIdentifier: Channel] = [:]  // on the shell's loop
    private var eventWatchers: [ObjectIdentifier: Channel] = [:]  // on the shell's loop
    #if Chat
    /// The node's chat, when it runs one (set before the socket is bound).
    var chat: ChatService?
    #endif
    /// Answers the `discovery` op (set by the node before the socket is bound).
    var discoveryReport: (@Sendable () async -> DiscoveryReport)?

    /// Caps on control clients (`watch` and `events` ones stay connected).
    let admission: Admission

    init(shell: GossipShell, metrics: NodeMetrics,
         admission: Admission = Admission(listener: "control", limits: NodeListenerLimits.standard.control, budget: nil)) {
        self.shell = shell
        self.metrics = metrics
        self.admission = admission
    }

    /// The socket this server published (device and inode), removed at stop only if still there.
    private(set) var published: (dev: UInt64, ino: UInt64)?

    /// Serves the control API at `path`: a stale socket there is replaced; anything else (a
    /// directory, a file, a socket a node answers on) is a `ControlPathError` and left intact.
    /// The socket is bound in a private directory and linked to `path` once it is 0600, so it is
    /// never reachable by others, whatever the umask.
    func bind(path: String) async throws -> Channel {
        try ControlSocketPath.prepare(path)
        let dir = try ControlSocketPath.privateDirectory(beside: path)
        let temporary = dir + "/s"
        defer {
            unlink(temporary)
            rmdir(dir)
        }
        let channel = try await bootstrap().bind(unixDomainSocketPath: temporary).get()
        do {
            published = try ControlSocketPath.publish(temporary, at: path)
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    /// Removes the published socket if it is still this server's.
    func unpublish(path: String) {
        if let published { ControlSocketPath.remove(path, ifStill: published) }
    }

    private func bootstrap() -> ServerBootstrap {
        ServerBootstrap(group: shell.loop)
            .childChannelInitializer { channel in
                guard self.admission.admit(channel) else { return channel.eventLoop.makeSucceededVoidFuture() }
                do {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(LineDecoder(maxLength: 1 << 20)),
                        ControlHandler(server: self),
                    ])
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }

    /// Sends a change to every `watch` client, and to `events` clients (on the shell's loop).
    func broadcast(_ row: TableRow) {
        let bytes = ControlJSON.encode(row)
        for c in watchers.values {
            var b = c.allocator.buffer(capacity: bytes.count)
            b.writeBytes(bytes)
            c.writeAndFlush(b, promise: nil)
        }
        if !eventWatchers.isEmpty { broadcast(ChatEventLine(type: "row", row: row)) }
    }

    /// Whether any client follows the `events` stream (on the shell's loop).
    var hasEventWatchers: Bool { !eventWatchers.isEmpty }

    /// Sends a chat event to every `events` client (on the shell's loop).
    func broadcast(_ event: ChatEventLine) {
        guard !eventWatchers.isEmpty else { return }
        let bytes = ControlJSON.encode(event)
        for c in eventWatchers.values {
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
        #if Chat
        case "events":
            guard chat != nil else { return Self.noChat }
            let id = ObjectIdentifier(channel)
            shell.loop.execute {
                self.eventWatchers[id] = channel
                channel.closeFuture.whenComplete { _ in self.shell.loop.execute { self.eventWatchers[id] = nil } }
            }
            return nil
        case "send", "history", "conversations", "people", "friends", "requests", "answer", "read", "typing":
            guard let chat else { return Self.noChat }
            do { return try await respondChat(req, chat) } catch {
                return ControlResponse(ok: false, error: "\(error)")
            }
        #else
        case "events", "send", "history", "conversations", "people", "friends", "requests", "answer", "read", "typing":
            return Self.noChat
        #endif
        default:
            return ControlResponse(ok: false, error: "unknown op \(req.op): table, members, status, stats, metrics, discovery, watch, "
                                   + "send, history, people, conversations, friends, requests, answer, read, typing, events")
        }
    }

    static let noChat = ControlResponse(ok: false, error: chatBuilt ? "this node runs without chat (started with --chat off)"
                                        : "this hearsay was built without chat (make release-overlay)")

    #if Chat
    private func respondChat(_ req: ControlRequest, _ chat: ChatService) async throws -> ControlResponse {
        func peer() throws -> String {
            guard let p = req.peer, !p.isEmpty else { throw ChatError("\(req.op) needs a peer (a handle or an id prefix)") }
            return p
        }
        var r = ControlResponse(ok: true)
        switch req.op {
        case "send":
            let texts = req.texts ?? req.text.map { [$0] } ?? []
            let (rows, note) = try await chat.send(texts, to: try peer())
            r.messages = rows
            r.note = note
        case "history":
            let (person, rows) = try await chat.history(with: try peer(), limit: req.limit)
            r.person = person
            r.messages = rows
        case "people", "conversations":
            let all = try await chat.people()
            r.people = req.op == "people" ? all : all.filter { $0.messages > 0 }
        case "friends":
            r.people = try await chat.friends(req.action ?? "list", req.peer)
        case "requests":
            r.requests = await chat.pendingRequests()
        case "answer":
            guard let accept = req.accept else { throw ChatError("answer needs accept: true or false") }
            try await chat.answer(try peer(), accept: accept)
        case "read":
            r.note = "\(try await chat.markRead(try peer())) marked read"
        case "typing":
            try await chat.typing(try peer(), on: req.on ?? true)
        default:
            break
        }
        return r
    }

    #endif

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
