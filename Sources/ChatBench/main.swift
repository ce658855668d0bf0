// ChatBench: native chat throughput and latency between nodes of this process on loopback,
// next to plain TCP measured in the same run (the floor). Docs/benchmarks.md, "Native chat";
// run it with Tools/bench/chat.
//
//   ChatBench [--quick] [--seconds N] [--json] [--window N] [--batch N] [--concurrency N]
//             [--rate N] [--only ping,stream,max,rate,power,s16max,s16rate] [--port N] [--tmp DIR]
//
// Network: everything binds 127.0.0.x only (the receiver 127.0.0.1, senders 127.0.0.2 ...),
// mDNS off, no seeds but the receiver: no packet leaves the host.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

struct Options {
    var seconds = 10.0
    var quick = false
    var json = false
    var window = 8192
    var batch = 256
    var concurrency = 8
    var rate = 1000
    var sessions = 16
    var only: Set<String>? = nil
    var port: UInt16? = nil
    var tmp: String? = nil
    var payload = 64
}

func usage(_ why: String) -> Never {
    FileHandle.standardError.write(Data("ChatBench: \(why)\n".utf8))
    FileHandle.standardError.write(Data("""
        usage: ChatBench [--quick] [--seconds N] [--json] [--window N] [--batch N] [--concurrency N] [--rate N]
                         [--only ping,stream,max,rate,power,s16max,s16rate] [--port N] [--tmp DIR]

        """.utf8))
    exit(2)
}

func parse(_ args: [String]) -> Options {
    var o = Options()
    var secondsGiven = false
    var i = 0
    func value() -> String {
        i += 1
        guard i < args.count else { usage("\(args[i - 1]) needs a value") }
        return args[i]
    }
    func int(_ min: Int) -> Int {
        let a = args[i]
        guard let v = Int(value()), v >= min else { usage("\(a) needs a whole number ≥ \(min)") }
        return v
    }
    while i < args.count {
        switch args[i] {
        case "--quick": o.quick = true
        case "--json": o.json = true
        case "--seconds":
            guard let v = Double(value()), v > 0, v <= 600 else { usage("--seconds needs a number in (0, 600]") }
            o.seconds = v
            secondsGiven = true
        case "--window": o.window = int(1)
        case "--batch": o.batch = int(1)
        case "--concurrency": o.concurrency = int(1)
        case "--rate": o.rate = int(1)
        case "--port":
            let v = int(1024)
            guard v < 65535 else { usage("--port needs a port number") }
            o.port = UInt16(v)
        case "--only": o.only = Set(value().split(separator: ",").map(String.init))
        case "--tmp": o.tmp = value()
        case "-h", "--help": usage("the native chat benchmark")
        default: usage("unknown argument \(args[i])")
        }
        i += 1
    }
    if o.quick && !secondsGiven { o.seconds = 2 }
    if o.batch > o.window { usage("--batch must not exceed --window") }
    return o
}

let opts = parse(Array(CommandLine.arguments.dropFirst()))

func progress(_ s: String) {
    FileHandle.standardError.write(Data("chatbench: \(s)\n".utf8))
}

func wants(_ key: String) -> Bool { opts.only?.contains(key) ?? true }

/// A free gossip port on 127.0.0.1 ... 127.0.0.(sessions + 1), TCP and UDP.
func choosePort() throws -> UInt16 {
    if let p = opts.port { return p }
    for _ in 0..<100 {
        let p = UInt16.random(in: 30000..<40000)
        if (1...(opts.sessions + 1)).allSatisfy({ portIsFree("127.0.0.\($0)", p) }) { return p }
    }
    throw BenchError("no free port found on 127.0.0.x")
}

func chatRow(_ name: String, _ detail: String, _ o: ChatOutcome, cpu: Usage, commits: (Int, Int)) -> Row {
    var r = Row(name: name, detail: o.extra.isEmpty ? detail : detail + "; " + o.extra, messages: o.delivered,
                seconds: o.seconds, latencies: o.latencies, usage: cpu)
    r.receiverCommits = commits.0
    r.senderCommits = commits.1
    r.errors = o.errors
    r.lost = o.lost
    return r
}

func run() async throws -> [Row] {
    var rows = [Row]()
    let seconds = opts.seconds
    let warmBatches = opts.quick ? 5 : 20
    let root: String
    if let t = opts.tmp {
        root = t
    } else {
        var template = Array("/tmp/hearsay-chatbench-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw BenchError("cannot create a directory in /tmp") }
        root = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    guard root.hasPrefix("/tmp/") else { throw BenchError("--tmp must be under /tmp") }
    defer { try? FileManager.default.removeItem(atPath: root) }

    if wants("ping") {
        progress("raw TCP ping-pong, \(seconds) s")
        let (r, cpu) = try await measured { try await RawTCP.pingPong(payload: opts.payload, seconds: seconds) }
        rows.append(Row(name: "raw TCP ping-pong", detail: "1 frame outstanding, \(opts.payload) B + 4 B length, no TLS",
                        messages: r.messages, seconds: r.seconds, latencies: r.latencies, usage: cpu))
    }
    if wants("stream") {
        progress("raw TCP stream, \(seconds) s")
        let (r, cpu) = try await measured {
            try await RawTCP.stream(payload: opts.payload, window: opts.window, seconds: seconds)
        }
        rows.append(Row(name: "raw TCP stream", detail: "window \(format1(Double(opts.window), digits: 0)), acked after each read, no TLS",
                        messages: r.messages, seconds: r.seconds, latencies: r.latencies, usage: cpu))
    }
    let pipelined = "\(opts.concurrency) × send(\(opts.batch)), window \(format1(Double(opts.window), digits: 0))"
    if wants("max") || wants("rate") {
        progress("starting 2 nodes (durability process)")
        let c = try await Cluster.start(senders: 1, power: false, root: root + "/process", port: try choosePort(), log: progress)
        do {
            try await c.warm(batches: warmBatches)
            if wants("max") {
                progress("chat, 1 session, max throughput, \(seconds) s")
                let k0 = (c.receiverCommits, c.senderCommits)
                let (o, cpu) = try await measured {
                    try await ChatRuns.maxThroughput(c, window: opts.window, batch: opts.batch, tasks: opts.concurrency, seconds: seconds)
                }
                rows.append(chatRow("chat, 1 session, max", pipelined + ", process", o, cpu: cpu,
                                    commits: (c.receiverCommits - k0.0, c.senderCommits - k0.1)))
            }
            if wants("rate") {
                progress("chat, 1 session, \(opts.rate) msg/s, \(seconds) s")
                let k0 = (c.receiverCommits, c.senderCommits)
                let (o, cpu) = try await measured { try await ChatRuns.fixedRate(c, rate: opts.rate, seconds: seconds) }
                rows.append(chatRow("chat, 1 session, \(format1(Double(opts.rate), digits: 0))/s",
                                    "1 × send(1) per message, open loop, process", o, cpu: cpu,
                                    commits: (c.receiverCommits - k0.0, c.senderCommits - k0.1)))
            }
        } catch {
            await c.stop()
            throw error
        }
        await c.stop()
    }
    if wants("power") {
        progress("starting 2 nodes (durability power)")
        let c = try await Cluster.start(senders: 1, power: true, root: root + "/power", port: try choosePort(), log: progress)
        do {
            try await c.warm(batches: warmBatches)
            progress("chat, 1 session, max throughput, power, \(seconds) s")
            let k0 = (c.receiverCommits, c.senderCommits)
            let (o, cpu) = try await measured {
                try await ChatRuns.maxThroughput(c, window: opts.window, batch: opts.batch, tasks: opts.concurrency, seconds: seconds)
            }
            rows.append(chatRow("chat, 1 session, max", pipelined + ", power (fsync)", o, cpu: cpu,
                                commits: (c.receiverCommits - k0.0, c.senderCommits - k0.1)))
        } catch {
            await c.stop()
            throw error
        }
        await c.stop()
    }
    if wants("s16max") || wants("s16rate") {
        let n = opts.sessions
        progress("starting \(n + 1) nodes (durability process)")
        let c = try await Cluster.start(senders: n, power: false, root: root + "/s16", port: try choosePort(), log: progress)
        do {
            try await c.warm(batches: max(1, warmBatches / 4))
            let w = max(1, opts.window / n)
            let b = max(1, min(opts.batch, w / 4))
            if wants("s16max") {
                progress("chat, \(n) sessions, max throughput, \(seconds) s")
                let k0 = (c.receiverCommits, c.senderCommits)
                let (o, cpu) = try await measured {
                    try await ChatRuns.maxThroughput(c, window: w, batch: b, tasks: 2, seconds: seconds)
                }
                rows.append(chatRow("chat, \(n) sessions, max", "\(n) senders → 1 receiver, each 2 × send(\(b)), window \(w), process",
                                    o, cpu: cpu, commits: (c.receiverCommits - k0.0, c.senderCommits - k0.1)))
            }
            if wants("s16rate") {
                progress("chat, \(n) sessions, \(opts.rate) msg/s in all, \(seconds) s")
                let k0 = (c.receiverCommits, c.senderCommits)
                let (o, cpu) = try await measured { try await ChatRuns.fixedRate(c, rate: opts.rate, seconds: seconds) }
                rows.append(chatRow("chat, \(n) sessions, \(format1(Double(opts.rate), digits: 0))/s",
                                    "\(n) senders → 1 receiver, 1 × send(1) per message, round robin, open loop, process",
                                    o, cpu: cpu, commits: (c.receiverCommits - k0.0, c.senderCommits - k0.1)))
            }
        } catch {
            await c.stop()
            throw error
        }
        await c.stop()
    }
    return rows
}

struct Report: Codable {
    var date: String
    var cores: Int
    var seconds: Double
    var rows: [Row]
}

do {
    let started = Date()
    let rows = try await run()
    let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    if opts.json {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        let report = Report(date: ISO8601DateFormatter().string(from: started), cores: cores, seconds: opts.seconds, rows: rows)
        print(String(decoding: try e.encode(report), as: UTF8.self))
    } else {
        print("Native chat on loopback, \(cores) cores, \(format1(opts.seconds, digits: 1)) s per run, "
              + "\(opts.payload)-byte texts, \(ISO8601DateFormatter().string(from: started))")
        print("Latency: send call start (raw: write) → ack (\"delivered\": the receiver stored it). "
              + "\(opts.sessions) sessions = \(opts.sessions) sender nodes → 1 receiver node (one connection per pair of nodes).")
        print("")
        print(markdownTable(rows))
        let one = rows.filter { $0.name == "chat, 1 session, max" }
        if !one.isEmpty {
            print("")
            for r in one {
                let ok = r.messagesPerSecond >= 50_000
                print("target ≥ 50,000 msg/s, 1 session, acks + persistence (\(r.detail)): "
                      + "\(format1(r.messagesPerSecond, digits: 0)) msg/s — \(ok ? "met" : "MISSED")")
            }
        }
        if let r = rows.first(where: { $0.name == "chat, 1 session, 1,000/s" }) {
            let ok = r.p99Micros < 2000
            print("target p99 < 2 ms at 1,000 msg/s: p99 \(formatLatency(r.p99Micros)) — \(ok ? "met" : "MISSED")")
        }
    }
} catch {
    progress("failed: \(error)")
    exit(1)
}
