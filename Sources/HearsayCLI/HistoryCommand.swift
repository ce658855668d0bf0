import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HearsayModel
import HearsayNode

/// `hearsay history PEER`: a conversation as the node stored it.
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Print the conversation with PEER (a handle or an id prefix).")

    @OptionGroup var data: DataOptions

    @Argument(help: "Who: a handle or an id prefix.")
    var peer: String

    @Option(name: .long, help: "Only the last N messages.")
    var limit: Int?

    @Flag(name: .long, help: "One JSON array: per message id, from, to, text, sent, state and more.")
    var json = false

    func run() throws {
        if let limit, limit <= 0 { throw ValidationError("--limit takes a positive number") }
        let resp = try data.call(ControlRequest(op: "history", peer: peer, limit: limit))
        let rows = resp.messages ?? []
        if json {
            printJSON(rows)
            return
        }
        if let p = resp.person {
            print("conversation with \(p.handle) (\(p.id.prefix(10))), realm \(p.realm)\(p.secure ? "" : ", UNENCRYPTED"), \(p.state)")
        }
        for r in rows { print(Self.line(r)) }
    }

    /// `2026-11-25 08:01:46  ann > text  [delivered]`
    static func line(_ r: MessageRow) -> String {
        let when = String(r.sent.prefix(19).map { $0 == "T" ? " " : $0 })
        let arrow = r.direction == "out" ? ">" : "<"
        var mark = r.direction == "out" ? "  [\(r.state)]" : ""
        if let via = r.via { mark += "  [relayed by \(r.via_handle ?? String(via.prefix(10))), unencrypted last hop]" }
        return "\(when)  \(r.from_handle) \(arrow) \(r.text)\(mark)"
    }
}
