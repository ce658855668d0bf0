import ArgumentParser
import HearsayModel
import HearsayNode

/// `hearsay requests [accept|decline PEER]`: session requests waiting under the `ask` policy.
struct RequestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests", abstract: "List session requests waiting for you (policy ask), or accept/decline one.")

    @OptionGroup var data: DataOptions

    @Argument(help: "list, accept or decline.")
    var action = "list"

    @Argument(help: "Who (for accept and decline).")
    var peer: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        switch action {
        case "list":
            let rows = try data.call(ControlRequest(op: "requests")).requests ?? []
            if json {
                printJSON(rows)
                return
            }
            if rows.isEmpty { print("no session request waits") }
            for r in rows { print(column(r.handle, 18) + column(String(r.peer.prefix(10)), 12) + "waiting \(fixedPoint(r.waiting_seconds, digits: 0)) s") }
        case "accept", "decline":
            guard let peer else { throw ValidationError("requests \(action) needs a PEER") }
            _ = try data.call(ControlRequest(op: "answer", peer: peer, accept: action == "accept"))
            print(action == "accept" ? "accepted \(peer)" : "declined \(peer)")
        default:
            throw ValidationError("requests takes list, accept PEER or decline PEER")
        }
    }
}
