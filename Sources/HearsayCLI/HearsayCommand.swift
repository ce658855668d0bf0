import ArgumentParser

/// `hearsay`: serverless instant messaging for local networks and overlays.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct HearsayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hearsay",
        abstract: "Serverless instant messaging for local networks and overlays.",
        subcommands: [
            NodeCommand.self, TableCommand.self, MembersCommand.self, StatusCommand.self, IdCommand.self, SimCommand.self,
        ]
    )

    public init() {}
}
