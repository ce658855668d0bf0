/// Why bytes from the network were refused. Every decoder throws this; callers drop the input
/// and count it under `reason`.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        case truncated
        case oversized
        case badVersion = "bad-version"
        case unknownType = "unknown-type"
        case malformed
        case badSignature = "bad-signature"
    }

    public let reason: Reason
    public let detail: String

    public init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
