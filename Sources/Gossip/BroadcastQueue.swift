import DequeModule
import HearsayModel

/// Updates waiting to be piggybacked (SWIM §4.4, memberlist's TransmitLimitedQueue): newest
/// first, each sent at most `limit` times and for at most `maxAge`, and a newer update about a
/// member replaces the older one still queued. (Piggyback is the safety net behind eager and
/// lazy push: an update seconds old has reached everyone it will reach this way.)
struct BroadcastQueue: Sendable {
    private struct Item: Sendable {
        var update: Update
        var transmits: Int
        var serial: UInt64
        var enqueuedAt: Instant
    }

    private var items: [NodeID: Item] = [:]
    /// Subjects, newest at the end; may hold stale serials, skipped on read.
    private var recency: Deque<(NodeID, UInt64)> = []
    private var serial: UInt64 = 0
    let limit: Int
    let maxAge: Duration

    init(limit: Int, maxAge: Duration = .seconds(3600)) {
        self.limit = limit
        self.maxAge = maxAge
    }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func enqueue(_ u: Update, now: Instant = .zero) {
        guard limit > 0 else { return }
        serial += 1
        items[u.subject] = Item(update: u, transmits: 0, serial: serial, enqueuedAt: now)
        recency.append((u.subject, serial))
    }

    /// Takes the newest updates that fit in `budget` bytes, counting a transmission for each.
    mutating func take(budget: Int, now: Instant = .zero, maxCount: Int = 64) -> [Update] {
        let horizon = now + .nanoseconds(-maxAge.nanoseconds)
        var out = [Update]()
        var left = budget
        var idx = recency.count - 1
        var exhausted = [Int]()
        while idx >= 0 && out.count < maxCount {
            let (id, s) = recency[idx]
            if let item = items[id], item.serial == s, item.enqueuedAt < horizon {
                items[id] = nil
                exhausted.append(idx)
            } else if let item = items[id], item.serial == s {
                let size = item.update.encodedSize
                if size <= left {
                    out.append(item.update)
                    left -= size
                    let t = item.transmits + 1
                    if t >= limit {
                        items[id] = nil
                        exhausted.append(idx)
                    } else {
                        items[id]!.transmits = t
                    }
                }
            } else {
                exhausted.append(idx)
            }
            idx -= 1
            if left < 40 { break }
        }
        if exhausted.count > 64 || recency.count > 4 * max(items.count, 16) { compact() }
        return out
    }

    /// Drops recency records of updates no longer queued.
    private mutating func compact() {
        let live = items
        recency = Deque(recency.filter { live[$0.0]?.serial == $0.1 })
    }

    mutating func removeAll() {
        items.removeAll()
        recency.removeAll()
    }
}
