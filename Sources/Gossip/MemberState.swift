/// SWIM's view of a member, plus Hearsay's graceful `left`. Wire values are append-only.
public enum MemberState: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case alive = 0
    case suspect = 1
    case dead = 2
    case left = 3

    /// Probed, gossiped to and counted as online.
    public var isLive: Bool { self == .alive || self == .suspect }

    public var description: String {
        switch self {
        case .alive: "alive"
        case .suspect: "suspect"
        case .dead: "dead"
        case .left: "left"
        }
    }
}
