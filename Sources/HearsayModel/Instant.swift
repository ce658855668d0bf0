/// A point in time, in nanoseconds on some monotonic clock: the simulator's virtual clock or the
/// node's `ContinuousClock`. The gossip state machine only ever receives instants as arguments.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: a.nanoseconds + d.nanoseconds) }

    public static func - (a: Instant, b: Instant) -> Duration { .nanoseconds(a.nanoseconds - b.nanoseconds) }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { "\(Double(nanoseconds / 1000) / 1e6)s" }
}

extension Duration {
    /// Whole nanoseconds (saturating at Int64).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (m, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return s < 0 ? .min : .max }
        let (n, o2) = m.addingReportingOverflow(atto / 1_000_000_000)
        if o2 { return s < 0 ? .min : .max }
        return n
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func * (d: Duration, f: Double) -> Duration { .nanoseconds(Int64((Double(d.nanoseconds) * f).rounded())) }
}
