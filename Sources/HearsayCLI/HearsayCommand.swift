import ArgumentParser

/// `hearsay`: serverless instant messaging for local networks and overlays.
public struct HearsayCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hearsay",
        abstract: "Serverless instant messaging for local networks and overlays.",
        subcommands: [IdCommand.self, SimCommand.self]
    )

    public init() {}
}
