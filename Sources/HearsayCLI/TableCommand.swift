import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HearsayModel
import HearsayNode

/// `hearsay table`: the replicated IM database as the running node holds it.
struct TableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table", abstract: "Show the gossip table (the replicated IM database) of the running node.")

    @OptionGroup var data: DataOptions

    @Flag(name: .long, help: "Print a JSON array of rows.")
    var json = false

    @Flag(name: .long, help: "Stay connected and print one line per change as it arrives.")
    var watch = false

    @Option(name: .long, help: "Compare with another node's table, fetched read-only over its gossip port (HOST:PORT).")
    var diff: String?

    func run() throws {
        let client = data.client()
        if let diff {
            try runDiff(diff, client: client)
            return
        }
        if watch {
            do {
                try client.watch { row in
                    emitLine(json ? String(decoding: ControlJSONOut.encode(row), as: UTF8.self) : Self.line(row, colour: false))
                }
            } catch { throw Failure(error.description) }
            return
        }
        let resp: ControlResponse
        do { resp = try client.request(ControlRequest(op: "table")) } catch { throw Failure(error.description) }
        guard resp.ok, let rows = resp.rows else { throw Failure(resp.error ?? "the node refused") }
        if json {
            print(String(decoding: ControlJSONOut.encode(rows), as: UTF8.self))
            return
        }
        let colour = isatty(1) != 0
        print(Self.header)
        for r in rows { print(Self.line(r, colour: colour)) }
    }

    func runDiff(_ other: String, client: ControlClient) throws {
        guard let remote = PeerAddress(other) else { throw ValidationError("--diff takes HOST:PORT, e.g. 127.0.0.2:7946") }
        let resp: ControlResponse
        do { resp = try client.request(ControlRequest(op: "table")) } catch { throw Failure(error.description) }
        guard let me = resp.node, let mine = resp.rows?.first(where: { $0.id == me }),
            let host = mine.addresses.first, let local = PeerAddress("\(host):\(mine.port)")
        else { throw Failure(resp.error ?? "the node did not say its own gossip address") }
        let differences: [TableInspector.Difference]
        do {
            differences = TableInspector.diff(local: try TableInspector.fetch(local), remote: try TableInspector.fetch(remote))
        } catch { throw Failure(error.description) }
        if json {
            struct Row: Encodable { let id, handle: String; let newer, local, remote: String? }
            let rows = differences.map { Row(id: $0.id.base32, handle: $0.handle, newer: $0.newer?.rawValue, local: $0.local, remote: $0.remote) }
            print(String(decoding: ControlJSONOut.encode(rows), as: UTF8.self))
            return
        }
        if differences.isEmpty {
            print("the tables of \(local) and \(remote) are identical")
            return
        }
        print("ID          HANDLE            NEWER   LOCAL (\(local))          REMOTE (\(remote))")
        for d in differences {
            print(column(d.id.short, 12) + column(d.handle, 18) + column(d.newer?.rawValue ?? "?", 8) + column(d.local ?? "(absent)", 28) + (d.remote ?? "(absent)"))
        }
    }

    static let header = "ID          HANDLE            REALM     PROTOCOL    ADDRESS:PORT           STATUS     STATE    VERSION        ORIGIN      AGE"

    static func line(_ r: TableRow, colour: Bool) -> String {
        // A node's gossip endpoint; for a user of another realm (no gossip port), where its client listens.
        let address = (r.addresses.first ?? "-") + ":\(r.port != 0 ? r.port : r.chat_port)"
        var state = column(r.state, 9)
        if colour {
            let code = ["alive": "32", "suspect": "33", "dead": "31", "left": "90"][r.state] ?? "0"
            state = "\u{1B}[\(code)m\(state)\u{1B}[0m"
        }
        let age = r.age_seconds < 60 ? "\(Int(r.age_seconds))s" : "\(Int(r.age_seconds / 60))m"
        return column(String(r.id.prefix(10)), 12) + column(r.handle, 18) + column(r.realm, 10) + column(r.protocol, 12)
            + column(address, 23) + column(r.status, 11) + state + column(r.version, 15) + column(String(r.origin.prefix(10)), 12) + age
    }
}

/// `hearsay members`: the SWIM view.
struct MembersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members", abstract: "Show the SWIM view of the running node: state, incarnation, health, probe RTT.")

    @OptionGroup var data: DataOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let resp: ControlResponse
        do { resp = try data.client().request(ControlRequest(op: "members")) } catch { throw Failure(error.description) }
        guard resp.ok, let rows = resp.members else { throw Failure(resp.error ?? "the node refused") }
        if json {
            print(String(decoding: ControlJSONOut.encode(rows), as: UTF8.self))
            return
        }
        print("ID          HANDLE            ADDRESS                STATE     INCARNATION  HEALTH  RTT")
        for m in rows {
            let rtt = m.rtt_ms.map { fixedPoint($0, digits: 2) + " ms" } ?? "-"
            print(column(String(m.id.prefix(10)), 12) + column(m.handle, 18) + column(m.address, 23) + column(m.state, 10)
                  + column("\(m.incarnation)", 13) + column(m.health.map(String.init) ?? "", 8) + rtt)
        }
    }
}

/// `hearsay status available|away|busy [TEXT]`.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Change your status; it spreads by gossip.")

    @OptionGroup var data: DataOptions

    @Argument(help: "available, away or busy")
    var status: String

    @Argument(help: "Status text (optional).")
    var text: [String] = []

    func run() throws {
        let req = ControlRequest(op: "status", status: status, text: text.isEmpty ? nil : text.joined(separator: " "))
        let resp: ControlResponse
        do { resp = try data.client().request(req) } catch { throw Failure(error.description) }
        guard resp.ok else { throw Failure(resp.error ?? "the node refused") }
    }
}

/// Prints `v` as one line of JSON (keys sorted).
func printJSON<T: Encodable>(_ v: T) { print(String(decoding: ControlJSONOut.encode(v), as: UTF8.self)) }

enum ControlJSONOut {
    static func encode<T: Encodable>(_ v: T) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(v)) ?? Data()
    }
}

/// Writes a line to standard output at once (unbuffered: `--watch` and `node` are read live).
func emitLine(_ s: String, fd: Int32 = 1) {
    let bytes = Array((s + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

/// `hearsay metrics`: the node's metrics in the Prometheus text format.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Print the running node's metrics (Prometheus text format).")

    @OptionGroup var data: DataOptions

    func run() throws {
        let resp: ControlResponse
        do { resp = try data.client().request(ControlRequest(op: "metrics")) } catch { throw Failure(error.description) }
        guard resp.ok, let text = resp.metrics else { throw Failure(resp.error ?? "the node refused") }
        print(text, terminator: "")
    }
}

