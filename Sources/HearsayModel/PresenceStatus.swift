/// What a user says about their availability. Wire values are append-only.
public enum PresenceStatus: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case available = 0
    case away = 1
    case busy = 2
    case offline = 3

    public var description: String {
        switch self {
        case .available: "available"
        case .away: "away"
        case .busy: "busy"
        case .offline: "offline"
        }
    }

    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = s
    }
}
