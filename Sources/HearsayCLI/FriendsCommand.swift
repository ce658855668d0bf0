import ArgumentParser
import HearsayModel
import HearsayNode

/// `hearsay friends list|add|rm`: the user's friends (the `friends` session policy admits them only).
struct FriendsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "friends", abstract: "List, add or remove friends (`hearsay friends add ann`).")

    @OptionGroup var data: DataOptions

    @Argument(help: "list, add or rm.")
    var action = "list"

    @Argument(help: "Who (for add and rm): a handle or an id prefix.")
    var peer: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        guard ["list", "add", "rm"].contains(action) else { throw ValidationError("friends takes list, add PEER or rm PEER") }
        if action != "list" && peer == nil { throw ValidationError("friends \(action) needs a PEER") }
        let people = try data.call(ControlRequest(op: "friends", peer: peer, action: action)).people ?? []
        if json {
            printJSON(people)
            return
        }
        if people.isEmpty { print("no friends yet: hearsay friends add HANDLE") }
        for p in people {
            print(column(p.handle, 18) + column(String(p.id.prefix(10)), 12) + column(p.online ? "online" : "offline", 9) + p.status)
        }
    }
}
