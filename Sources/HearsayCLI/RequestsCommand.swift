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
        let client = data.client()
        switch action {
        case "list":
            let resp: ControlResponse
            do { resp = try client.request(ControlRequest(op: "requests")) } catch { throw Failure(error.description) }
            guard resp.ok, let rows = resp.requests else { throw Failure(resp.error ?? "the node refused") }
            if json {
                print(String(decoding: ControlJSONOut.encode(rows), as: UTF8.self))
                return
            }
            if rows.isEmpty { print("no session request waits") }
            for r in rows { print(column(r.handle, 18) + column(String(r.peer.prefix(10)), 12) + "waiting \(fixedPoint(r.waiting_seconds, digits: 0)) s") }
        case "accept", "decline":
            guard let peer else { throw ValidationError("requests \(action) needs a PEER") }
            let resp: ControlResponse
            do { resp = try client.request(ControlRequest(op: "answer", peer: peer, accept: action == "accept")) } catch {
                throw Failure(error.description)
            }
            guard resp.ok else { throw Failure(resp.error ?? "the node refused") }
            print(action == "accept" ? "accepted \(peer)" : "declined \(peer)")
        default:
            throw ValidationError("requests takes list, accept PEER or decline PEER")
        }
    }
}
