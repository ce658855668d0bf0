import ArgumentParser

/// `hearsay chat`: the terminal chat client (being written).
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Chat in the terminal through the running node.")
    @OptionGroup var data: DataOptions
    func run() throws { throw Failure("hearsay chat is not built yet") }
}
