import ArgumentParser
import HearsayModel
import HearsayNode

/// `hearsay id`: this node's identity, created on first use.
struct IdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id",
        abstract: "Show this node's id (creating its identity key in the data directory on first use)."
    )

    @Option(name: .long, help: "Data directory (identity, state). Default: $XDG_DATA_HOME/hearsay or ~/.local/share/hearsay.")
    var data: String?

    func run() throws {
        let dir = data ?? IdentityStore.defaultDataDirectory()
        do {
            let (identity, created) = try IdentityStore.loadOrCreate(in: dir)
            if created { print("created a new identity in \(dir)/\(IdentityStore.fileName)") }
            print(identity.id.grouped)
        } catch {
            throw Failure(error.description)
        }
    }
}
