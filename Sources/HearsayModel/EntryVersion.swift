/// The version of a presence entry: SWIM's incarnation, then a sequence number.
///
/// The owner bumps `sequence` for every change it publishes, and `incarnation` when it refutes a
/// suspicion (SWIM §4.2) or restarts; ordering is lexicographic.
public struct EntryVersion: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var incarnation: UInt64
    public var sequence: UInt64

    public init(incarnation: UInt64, sequence: UInt64) {
        self.incarnation = incarnation
        self.sequence = sequence
    }

    public static func < (a: EntryVersion, b: EntryVersion) -> Bool {
        (a.incarnation, a.sequence) < (b.incarnation, b.sequence)
    }

    public var description: String { "\(incarnation).\(sequence)" }
}
