#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import HearsayModel

/// Lifeguard's dynamic suspicion timeout (LHA-Suspicion, Lifeguard §IV.B; memberlist suspicion.go).
///
/// A suspicion starts with a timeout of `max` and shrinks toward `min` as distinct members
/// confirm it: `timeout(c) = max(min, max - (max - min) · log(c + 1) / log(k + 1))`, where `c` is
/// the number of confirmations beyond the first and `k` the number expected.
struct Suspicion: Sendable {
    let incarnation: UInt64
    let start: Instant
    let min: Duration
    let max: Duration
    let k: Int
    private(set) var confirmers: [NodeID]
    private(set) var deadline: Instant
    /// Whether this node's own probe of the member failed (it suspected or confirmed first-hand).
    /// Only then does it declare death when the timeout runs out; a node that only heard the
    /// rumour verifies first (see `GossipInstance.verify`).
    var firstHand = false

    init(incarnation: UInt64, from: NodeID, start: Instant, min: Duration, max: Duration, k: Int) {
        self.incarnation = incarnation
        self.start = start
        self.min = min
        self.max = max
        self.k = k
        confirmers = [from]
        deadline = start + (k < 1 ? min : max)
    }

    var confirmations: Int { confirmers.count - 1 }

    static func timeout(confirmations c: Int, k: Int, min: Duration, max: Duration) -> Duration {
        guard k >= 1 else { return min }
        let fraction = log(Double(c + 1)) / log(Double(k + 1))
        let t = max.seconds - (max.seconds - min.seconds) * fraction
        return .nanoseconds(Int64(Swift.max(min.seconds, t) * 1e9))
    }

    /// Moves the deadline (after a verification showed the member answering).
    mutating func postpone(to t: Instant) { deadline = t }

    /// Whether a confirmation by `from` would count (checked before its signature is).
    func wouldConfirm(_ from: NodeID) -> Bool { confirmations < k && !confirmers.contains(from) }

    /// Adds an independent confirmation; returns whether it counted.
    mutating func confirm(_ from: NodeID) -> Bool {
        guard confirmations < k, !confirmers.contains(from) else { return false }
        confirmers.append(from)
        deadline = start + Self.timeout(confirmations: confirmations, k: k, min: min, max: max)
        return true
    }
}
