#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a node remembers across restarts (`<data>/state.json`): the last incarnation it used,
/// so it comes back with a higher one, the gossip addresses of the members it knew, so it
/// rejoins them without seeds, and the user's status and its text, so a restart keeps them.
public struct NodeState: Codable, Sendable, Equatable {
    public var incarnation: UInt64
    public var peers: [String]
    /// `available`, `away` or `busy` (absent in files of older versions: available).
    public var status: String?
    public var statusText: String?

    public static let fileName = "state.json"

    public init(incarnation: UInt64 = 0, peers: [String] = [], status: String? = nil, statusText: String? = nil) {
        self.incarnation = incarnation
        self.peers = peers
        self.status = status
        self.statusText = statusText
    }

    public static func load(from dir: String) -> NodeState {
        guard let data = FileManager.default.contents(atPath: dir + "/" + fileName),
            let s = try? JSONDecoder().decode(NodeState.self, from: data)
        else { return NodeState() }
        return s
    }

    /// Writes atomically (temporary file, then rename).
    public func save(to dir: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(self).write(to: URL(fileURLWithPath: dir + "/" + Self.fileName), options: .atomic)
    }

    /// The incarnation for this start: above the last one used and, so that a lost state file
    /// does not bring back an old incarnation, at least the wall-clock seconds.
    public func nextIncarnation(now: Date = Date()) -> UInt64 {
        max(incarnation + 1, UInt64(now.timeIntervalSince1970))
    }
}
