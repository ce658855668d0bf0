import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HearsayNode

/// `hearsay send PEER TEXT`: queues a message in the running node's outbox; it leaves the outbox
/// when the peer's node has stored it.
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send a message through the running node (it waits in the outbox until the peer has it).",
        discussion: "PEER is a handle or the first characters (4 or more) of a node id, as `hearsay table` shows them. "
            + "TEXT `-` reads standard input and sends each line as a message, in order.")

    @OptionGroup var data: DataOptions

    @Argument(help: "Who: a handle or an id prefix.")
    var peer: String

    @Argument(help: "What to say; `-`: one message per line of standard input.")
    var text: String

    @Flag(name: .long, help: "Print the queued messages as JSON.")
    var json = false

    func run() throws {
        var texts = [text]
        if text == "-" {
            texts = []
            while texts.count < 1_000_000, let line = readLine(strippingNewline: true) {
                if !line.isEmpty { texts.append(line) }
            }
            guard !texts.isEmpty else { throw Failure("nothing to send on standard input") }
        }
        var rows = [MessageRow]()
        var notes = Set<String>()
        // Requests of at most ~256 KiB, in order (the node keeps the order of a peer's messages).
        var chunk = [String]()
        var size = 0
        func flush() throws {
            guard !chunk.isEmpty else { return }
            let resp = try data.call(ControlRequest(op: "send", peer: peer, texts: chunk))
            rows += resp.messages ?? []
            if let n = resp.note { notes.insert(n) }
            chunk = []
            size = 0
        }
        for t in texts {
            if size + t.utf8.count > 256 * 1024 { try flush() }
            chunk.append(t)
            size += t.utf8.count + 8
        }
        try flush()
        if json {
            printJSON(rows)
            return
        }
        let to = rows.first.map { "\($0.to_handle) (\($0.to.prefix(10)))" } ?? peer
        print(rows.count == 1 ? "queued \(rows[0].id) for \(to)" : "queued \(rows.count) messages for \(to)")
        for n in notes.sorted() { emitLine("note: \(n)", fd: 2) }
    }
}
