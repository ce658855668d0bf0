#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HearsayModel
import HearsayNode
import NIOCore
import NIOPosix
import Synchronization

// Native chat between nodes of this process on 127.0.0.x: real nodes (gossip, TLS 1.3 sessions,
// SQLite stores with group commit), driven through `ChatService.send` and observed through
// `ChatService.observe`. Every message's text carries the monotonic time its `send` call
// started (or, at a fixed rate, was due to start), so that the sender's "delivered" event
// (the receiver stored it and acked) gives its latency without any shared table.

/// A 64-byte text: `m`, the time its `send` call started and the time it was due to start (the
/// same at full speed; at a fixed rate, the pacer's schedule), in nanoseconds (20 digits each),
/// padding.
func benchText(start: UInt64, due: UInt64) -> String {
    func digits(_ v: UInt64) -> String {
        let d = String(v)
        return String(repeating: "0", count: 20 - d.count) + d
    }
    return "m" + digits(start) + " " + digits(due) + " " + String(repeating: "x", count: 64 - 43)
}

/// The start and due times a benchmark text carries.
func parseTimes(_ text: String) -> (start: UInt64, due: UInt64)? {
    var it = text.utf8.makeIterator()
    guard it.next() == UInt8(ascii: "m") else { return nil }
    func number() -> UInt64? {
        var v: UInt64 = 0
        for _ in 0..<20 {
            guard let c = it.next(), c >= 48, c <= 57 else { return nil }
            v = v * 10 + UInt64(c - 48)
        }
        return v
    }
    guard let start = number(), it.next() == UInt8(ascii: " "), let due = number() else { return nil }
    return (start, due)
}

/// Credits for messages sent and not acknowledged yet: `acquire` waits while the window is full.
final class Window: Sendable {
    struct State {
        var free: Int
        var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
    }
    let state: Mutex<State>

    init(_ size: Int) { state = Mutex(State(free: size)) }

    func acquire(_ n: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let go = state.withLock { s -> Bool in
                if s.waiters.isEmpty && s.free >= n {
                    s.free -= n
                    return true
                }
                s.waiters.append((n, c))
                return false
            }
            if go { c.resume() }
        }
    }

    func release(_ n: Int) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.free += n
            var ready = [CheckedContinuation<Void, Never>]()
            while let w = s.waiters.first, s.free >= w.0 {
                s.free -= w.0
                ready.append(w.1)
                s.waiters.removeFirst()
            }
            return ready
        }
        for c in ready { c.resume() }
    }
}

/// What one sender node's events tell: latencies of the benchmark's messages (their texts carry
/// their start time), how many were acknowledged, when the last ack came. Fed on the node's
/// event loop by `observe`.
final class Tracker: Sendable {
    struct State {
        var starts: [String: (start: UInt64, due: UInt64)] = [:]
        /// From the `send` call's start, and from when it was due (the same at full speed).
        var latencies = newLatencies()
        var fromDue = newLatencies()
        var delivered = 0
        /// Acks of other messages (the warm-up's).
        var other = 0
        var lastAck: UInt64 = 0
        var window: Window?
    }
    let state = Mutex(State())

    func reset(window: Window?) {
        state.withLock {
            $0.latencies = newLatencies()
            $0.fromDue = newLatencies()
            $0.delivered = 0
            $0.lastAck = 0
            $0.window = window
        }
    }

    func observe(_ e: ChatEventLine) {
        if e.type == "message", let m = e.message, m.direction == "out" {
            guard let times = parseTimes(m.text) else { return }
            state.withLock { $0.starts[m.id] = times }
        } else if e.type == "state", e.state == "delivered", let id = e.id {
            let now = nowNanos()
            let window = state.withLock { s -> Window? in
                guard let t = s.starts.removeValue(forKey: id) else {
                    s.other += 1
                    return nil
                }
                s.latencies.record(now > t.start ? now - t.start : 0)
                s.fromDue.record(now > t.due ? now - t.due : 0)
                s.delivered += 1
                s.lastAck = now
                return s.window
            }
            window?.release(1)
        }
    }

    var delivered: Int { state.withLock { $0.delivered } }
    var other: Int { state.withLock { $0.other } }
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Whether TCP and UDP `port` are free on `host` (a 127.0.0.x address) right now.
func portIsFree(_ host: String, _ port: UInt16) -> Bool {
    for type in [Int32(SOCK_STREAM.rawValue), Int32(SOCK_DGRAM.rawValue)] {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &addr.sin_addr)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 { return false }
    }
    return true
}

/// A sender: its node's chat, its tracker, and the receiver's id to send to.
struct Sender: Sendable {
    let chat: ChatService
    let tracker: Tracker
    let peer: String
}

/// One receiver and `senders` sender nodes on 127.0.0.1 (the receiver), 127.0.0.2, ...: all on
/// the same gossip port, chat on any port, joined to the receiver, mDNS off.
final class Cluster: @unchecked Sendable {
    let root: String
    var nodes: [Node] = []
    var senders: [Sender] = []

    init(root: String) { self.root = root }

    static func start(senders count: Int, power: Bool, root: String, port: UInt16,
                      log: (String) -> Void) async throws -> Cluster {
        let c = Cluster(root: root)
        do {
            for i in 0...count {
                let host = HostAddress.ipv4(127, 0, 0, UInt8(i + 1))
                var o = NodeOptions(dataDirectory: "\(root)/n\(i)", handle: i == 0 ? "receiver" : "sender\(i)",
                                    bind: PeerAddress(host: host, port: port),
                                    join: i == 0 ? [] : ["127.0.0.1:\(port)"])
                o.mdns = .off
                o.chat.port = 0
                o.chat.durability = power ? .power : .process
                o.logLevel = .warning
                let node = try Node(options: o)
                try await node.start()
                c.nodes.append(node)
            }
        } catch {
            await c.stop()
            throw error
        }
        let receiver = c.nodes[0].identity.id.base32
        for node in c.nodes.dropFirst() {
            guard let chat = node.chat else { throw BenchError("chat is off") }
            let t = Tracker()
            chat.observe { e in t.observe(e) }
            c.senders.append(Sender(chat: chat, tracker: t, peer: receiver))
        }
        // Each sender: until the receiver is in its table and a first message is acknowledged.
        log("waiting for \(count) session(s) to open")
        try await withThrowingTaskGroup(of: Void.self) { g in
            for s in c.senders {
                g.addTask {
                    let deadline = nowNanos() + 20_000_000_000
                    while true {
                        do {
                            _ = try await s.chat.send(["warm-up"], to: s.peer)
                            break
                        } catch {
                            if nowNanos() > deadline { throw BenchError("no session after 20 s: \(error)") }
                            try await Task.sleep(nanoseconds: 20_000_000)
                        }
                    }
                    while s.tracker.other < 1 {
                        if nowNanos() > deadline { throw BenchError("the first message was not acknowledged within 20 s") }
                        try await Task.sleep(nanoseconds: 5_000_000)
                    }
                }
            }
            try await g.waitForAll()
        }
        return c
    }

    /// Warms every session (TLS, SQLite pages, allocator): `batches` × 100 messages, acknowledged.
    func warm(batches: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { g in
            for s in senders {
                g.addTask {
                    let before = s.tracker.other
                    for _ in 0..<batches {
                        _ = try await s.chat.send(Array(repeating: "warm-up " + String(repeating: "y", count: 56), count: 100), to: s.peer)
                    }
                    let deadline = nowNanos() + 30_000_000_000
                    while s.tracker.other < before + batches * 100 {
                        if nowNanos() > deadline { throw BenchError("warm-up messages not acknowledged within 30 s") }
                        try await Task.sleep(nanoseconds: 5_000_000)
                    }
                }
            }
            try await g.waitForAll()
        }
    }

    func stop() async {
        await withTaskGroup(of: Void.self) { g in
            for n in nodes { g.addTask { await n.stop(grace: .milliseconds(50)) } }
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    var receiverCommits: Int { nodes.first?.chat?.writerCounts.commits ?? 0 }
    var senderCommits: Int { senders.reduce(0) { $0 + $1.chat.writerCounts.commits } }
}

struct ChatOutcome {
    var latencies: Latencies
    var fromDue: Latencies
    var delivered: Int
    var seconds: Double
    var errors: Int
    var lost: Int
    var extra: String = ""
}

enum ChatRuns {
    /// Every sender keeps `tasks` `send` calls of `batch` texts going while fewer than `window`
    /// of its messages wait for their ack, for `seconds`; then waits for the acks (at most
    /// 30 s). Throughput: acknowledged messages from the first `send` to the last ack.
    static func maxThroughput(_ c: Cluster, window: Int, batch: Int, tasks: Int, seconds: Double) async throws -> ChatOutcome {
        for s in c.senders { s.tracker.reset(window: Window(window)) }
        let t0 = nowNanos()
        let deadline = t0 + UInt64(seconds * 1e9)
        let (sent, errors) = await withTaskGroup(of: (Int, Int).self) { g -> (Int, Int) in
            for s in c.senders {
                let w = s.tracker.state.withLock { $0.window! }
                for _ in 0..<tasks {
                    g.addTask {
                        var sent = 0
                        var errors = 0
                        while nowNanos() < deadline {
                            await w.acquire(batch)
                            let start = nowNanos()
                            let text = benchText(start: start, due: start)
                            do {
                                _ = try await s.chat.send(Array(repeating: text, count: batch), to: s.peer)
                                sent += batch
                            } catch {
                                errors += 1
                                w.release(batch)
                                try? await Task.sleep(nanoseconds: 10_000_000)
                            }
                        }
                        return (sent, errors)
                    }
                }
            }
            var total = (0, 0)
            for await r in g { total = (total.0 + r.0, total.1 + r.1) }
            return total
        }
        return await drain(c, sent: sent, errors: errors, t0: t0)
    }

    /// Open loop: `rate` messages per second in all, one per `send` call, each call started at
    /// its due time (sender i % n for message i) by a pacer on its own event loop. Latency from
    /// the call's start to the ack; also from the due time (what a late pacer would hide).
    static func fixedRate(_ c: Cluster, rate: Int, seconds: Double) async throws -> ChatOutcome {
        for s in c.senders { s.tracker.reset(window: nil) }
        let total = Int(Double(rate) * seconds)
        let interval = 1e9 / Double(rate)
        let errors = Counter()
        let pacer = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = pacer.next()
        let t0 = nowNanos() + 5_000_000
        let uptime0 = NIODeadline.now().uptimeNanoseconds
        let offset = Int64(bitPattern: uptime0) - Int64(bitPattern: nowNanos())
        let finished = Counter()
        for i in 0..<total {
            let due = t0 + UInt64(Double(i) * interval)
            let s = c.senders[i % c.senders.count]
            loop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(UInt64(Int64(bitPattern: due) + offset))) {
                Task {
                    let start = nowNanos()
                    do { _ = try await s.chat.send([benchText(start: start, due: due)], to: s.peer) } catch {
                        errors.value.add(1, ordering: .relaxed)
                    }
                    finished.value.add(1, ordering: .relaxed)
                }
            }
        }
        let deadline = t0 + UInt64(seconds * 1e9) + 30_000_000_000
        while finished.value.load(ordering: .relaxed) < total && nowNanos() < deadline {
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        try? await pacer.shutdownGracefully()
        let e = errors.value.load(ordering: .relaxed)
        var out = await drain(c, sent: finished.value.load(ordering: .relaxed) - e, errors: e, t0: t0)
        let d = out.fromDue
        out.extra = "from due time: p99 \(formatLatency(Double(d.valueAtPercentile(99)) / 1000)), "
            + "p99.9 \(formatLatency(Double(d.valueAtPercentile(99.9)) / 1000))"
        return out
    }

    /// Waits until every sent message is acknowledged (at most 30 s) and sums the senders up.
    static func drain(_ c: Cluster, sent: Int, errors: Int, t0: UInt64) async -> ChatOutcome {
        let deadline = nowNanos() + 30_000_000_000
        while c.senders.reduce(0, { $0 + $1.tracker.delivered }) < sent && nowNanos() < deadline {
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        var all = newLatencies()
        var fromDue = newLatencies()
        var delivered = 0
        var last: UInt64 = t0
        for s in c.senders {
            s.tracker.state.withLock {
                all.add($0.latencies)
                fromDue.add($0.fromDue)
                delivered += $0.delivered
                last = max(last, $0.lastAck)
                $0.window = nil
            }
        }
        return ChatOutcome(latencies: all, fromDue: fromDue, delivered: delivered, seconds: Double(last - t0) / 1e9,
                           errors: errors, lost: max(0, sent - delivered))
    }
}
