import ArgumentParser
import Foundation
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

    func run() throws {
        let client = data.client()
        if watch {
            do {
                try client.watch { row in
                    emitLine(json ? String(decoding: ControlJSONOut.encode(row), as: UTF8.self) : Self.line(row, colour: false))
                }
            } catch { throw ValidationError(error.description) }
            return
        }
        let resp: ControlResponse
        do { resp = try client.request(ControlRequest(op: "table")) } catch { throw ValidationError(error.description) }
        guard resp.ok, let rows = resp.rows else { throw ValidationError(resp.error ?? "the node refused") }
        if json {
            print(String(decoding: ControlJSONOut.encode(rows), as: UTF8.self))
            return
        }
        let colour = isatty(1) != 0
        print(Self.header)
        for r in rows { print(Self.line(r, colour: colour)) }
    }

    static let header = "ID          HANDLE            REALM     PROTOCOL    ADDRESS:PORT           STATUS     STATE    VERSION        ORIGIN      AGE"

    static func line(_ r: TableRow, colour: Bool) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n - 1)) + " " : s + String(repeating: " ", count: n - s.count) }
        let address = (r.addresses.first ?? "-") + ":\(r.port)"
        var state = pad(r.state, 9)
        if colour {
            let code = ["alive": "32", "suspect": "33", "dead": "31", "left": "90"][r.state] ?? "0"
            state = "\u{1B}[\(code)m\(state)\u{1B}[0m"
        }
        let age = r.age_seconds < 60 ? "\(Int(r.age_seconds))s" : "\(Int(r.age_seconds / 60))m"
        return pad(String(r.id.prefix(10)), 12) + pad(r.handle, 18) + pad(r.realm, 10) + pad(r.protocol, 12)
            + pad(address, 23) + pad(r.status, 11) + state + pad(r.version, 15) + pad(String(r.origin.prefix(10)), 12) + age
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
        do { resp = try data.client().request(ControlRequest(op: "members")) } catch { throw ValidationError(error.description) }
        guard resp.ok, let rows = resp.members else { throw ValidationError(resp.error ?? "the node refused") }
        if json {
            print(String(decoding: ControlJSONOut.encode(rows), as: UTF8.self))
            return
        }
        print("ID          HANDLE            ADDRESS                STATE     INCARNATION  HEALTH  RTT")
        for m in rows {
            func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n - 1)) + " " : s + String(repeating: " ", count: n - s.count) }
            let rtt = m.rtt_ms.map { String(format: "%.2f ms", $0) } ?? "-"
            print(pad(String(m.id.prefix(10)), 12) + pad(m.handle, 18) + pad(m.address, 23) + pad(m.state, 10)
                  + pad("\(m.incarnation)", 13) + pad(m.health.map(String.init) ?? "", 8) + rtt)
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
        do { resp = try data.client().request(req) } catch { throw ValidationError(error.description) }
        guard resp.ok else { throw ValidationError(resp.error ?? "the node refused") }
    }
}

enum ControlJSONOut {
    static func encode<T: Encodable>(_ v: T) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(v)) ?? Data()
    }
}

/// Writes a line to standard output at once (unbuffered: `--watch` and `node` are read live).
func emitLine(_ s: String) {
    let bytes = Array((s + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}
