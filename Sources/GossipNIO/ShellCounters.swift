/// What the shell saw on the wire, for metrics and `hearsay members`.
public struct ShellCounters: Sendable, Codable, Hashable {
    public var datagramsIn = 0
    public var datagramsOut = 0
    public var bytesIn = 0
    public var bytesOut = 0
    public var streamMessagesIn = 0
    public var streamMessagesOut = 0
    /// Input dropped before the state machine, by reason (`WireError.Reason` raw values).
    public var dropped: [String: Int] = [:]

    public init() {}
}
