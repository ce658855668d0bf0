/// When to try an unacknowledged message again (issue 5's durable delivery): exponential
/// backoff from `initialMillis`, doubling to `maxMillis`, with a deterministic jitter of up to
/// a quarter so that many queued messages do not retry in lockstep. A peer that gossip shows
/// alive again resets its messages to "due now": backoff only paces tries into silence.
public struct RetryPolicy: Sendable, Equatable {
    public var initialMillis: Int64 = 1_000
    public var maxMillis: Int64 = 300_000

    public init(initialMillis: Int64 = 1_000, maxMillis: Int64 = 300_000) {
        precondition(initialMillis > 0 && maxMillis >= initialMillis)
        self.initialMillis = initialMillis
        self.maxMillis = maxMillis
    }

    /// The delay before try number `attempts + 1`, given `attempts` tries so far; `jitter` in
    /// [0, 1) (from the caller's generator) adds up to 25 %.
    public func delay(afterAttempts attempts: Int, jitter: Double = 0) -> Int64 {
        precondition(attempts >= 0 && (0..<1).contains(jitter))
        var d = initialMillis
        for _ in 0..<min(attempts, 40) where d < maxMillis { d *= 2 }
        d = min(d, maxMillis)
        return d + Int64(Double(d) * 0.25 * jitter)
    }

    /// The messages to send now: due ones, and every one for a peer that just came back.
    public static func due<Item>(_ items: [Item], nowMillis: Int64, cameBack: Set<AnyHashable> = [],
                                 peer: (Item) -> AnyHashable, nextAttempt: (Item) -> Int64) -> [Item] {
        items.filter { cameBack.contains(peer($0)) || nextAttempt($0) <= nowMillis }
    }
}
