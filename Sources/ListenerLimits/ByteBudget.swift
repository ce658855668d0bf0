import Synchronization

/// Bytes that connections of one listener may hold between them for messages still arriving:
/// a decoder reserves a message's declared length when its header arrives, and gives it back
/// when the message is complete or the connection ends. So half-sent frames cost at most
/// `capacity` in all, not their count times the largest frame (issue 11, point 6).
public final class ByteBudget: Sendable {
    public let capacity: Int
    private let used = Atomic<Int>(0)
    private let refusals = Atomic<Int>(0)

    public init(capacity: Int) { self.capacity = capacity }

    /// Takes `bytes`; false (and nothing taken) if the budget lacks them.
    public func reserve(_ bytes: Int) -> Bool {
        let before = used.add(bytes, ordering: .relaxed).oldValue
        guard before + bytes <= capacity else {
            used.subtract(bytes, ordering: .relaxed)
            refusals.add(1, ordering: .relaxed)
            return false
        }
        return true
    }

    public func release(_ bytes: Int) { used.subtract(bytes, ordering: .relaxed) }

    public var inUse: Int { used.load(ordering: .relaxed) }
    /// Reservations refused so far.
    public var refused: Int { refusals.load(ordering: .relaxed) }
}
