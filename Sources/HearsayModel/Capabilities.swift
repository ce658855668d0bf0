/// What a peer can do, as a bit set (32 bits on the wire). Bits are append-only.
public struct Capabilities: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Accepts direct chat sessions.
    public static let chat = Capabilities(rawValue: 1 << 0)
    /// Sends typing notifications.
    public static let typing = Capabilities(rawValue: 1 << 1)
    /// Sends read receipts.
    public static let receipts = Capabilities(rawValue: 1 << 2)
    /// Relays messages to foreign-realm users it observes on its LAN.
    public static let relay = Capabilities(rawValue: 1 << 3)
    /// Serves larger profile data on demand.
    public static let profile = Capabilities(rawValue: 1 << 4)

    public static let named: [(String, Capabilities)] = [
        ("chat", .chat), ("typing", .typing), ("receipts", .receipts), ("relay", .relay), ("profile", .profile),
    ]

    public var names: [String] {
        var out = Self.named.filter { contains($0.1) }.map(\.0)
        let unknown = rawValue & ~Self.named.reduce(0) { $0 | $1.1.rawValue }
        if unknown != 0 { out.append("0x" + String(unknown, radix: 16)) }
        return out
    }
}
