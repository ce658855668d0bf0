import ArgumentParser

/// `hearsay`: serverless instant messaging for local networks and overlays.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct HearsayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hearsay",
        abstract: "Serverless instant messaging for local networks and overlays.",
        subcommands: [
            NodeCommand.self, TableCommand.self, MembersCommand.self, StatusCommand.self, MetricsCommand.self, IdCommand.self, DoctorCommand.self,
            ProtocolsCommand.self, ChatCommand.self, SendCommand.self, HistoryCommand.self, FriendsCommand.self,
            RequestsCommand.self,
            SimCommand.self,
        ]
    )

    public init() {}
}

/// A failure at run time (no node running, address in use...): printed as `Error: ...`, exit 1,
/// without the usage hint that ArgumentParser adds to `ValidationError`.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
