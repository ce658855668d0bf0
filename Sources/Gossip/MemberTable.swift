import HashTreeCollections
import HearsayModel

/// A node's replicated table: every row it holds (its own included), an order of the other
/// nodes for random choice and round-robin probing, and per-bucket hashes for anti-entropy.
///
/// Rows live in a persistent hash tree (`TreeDictionary`), so a copy is O(1) and a change to a
/// copy shares everything but one path: a simulator can start ten thousand nodes from one
/// converged table without ten thousand copies of it.
///
/// `buckets[b]` is the XOR of the hashes of the rows whose id starts with byte `b`; `root` is the
/// XOR of all rows. Two nodes that hold the same rows at the same precedence have equal roots.
public struct MemberTable: Sendable {
    public private(set) var rows: TreeDictionary<NodeID, Member>
    /// Nodes (not foreign entries), in any state, possibly this node too; dead and left ones stay
    /// until reaped and are skipped by the choosers.
    public private(set) var order: [NodeID]
    public private(set) var buckets: [UInt64]
    public private(set) var root: UInt64
    /// Node rows in `alive` or `suspect` state.
    public private(set) var liveCount: Int

    public init() {
        rows = [:]
        order = []
        buckets = Array(repeating: 0, count: 256)
        root = 0
        liveCount = 0
    }

    public var count: Int { rows.count }

    public subscript(id: NodeID) -> Member? { rows[id] }

    /// The hash of a row for anti-entropy: id and precedence, mixed (SplitMix64 finalizer).
    /// Deterministic across processes and versions of Swift (unlike `Hasher`).
    @inline(__always)
    public static func rowHash(_ id: NodeID, _ p: Precedence) -> UInt64 {
        var h = mix(id.hi ^ 0x6865_6172_7361_7921)
        h = mix(h ^ id.lo)
        h = mix(h ^ p.incarnation)
        h = mix(h ^ (UInt64(p.rank) << 56) ^ p.sequence)
        return h
    }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Inserts or replaces a row, keeping order, hashes and counts in step.
    public mutating func put(_ m: Member) {
        var m = m
        let id = m.id
        let old = rows[id]
        if let old {
            let h = Self.rowHash(id, old.precedence)
            buckets[id.bucket] ^= h
            root ^= h
            if old.isNode && old.state.isLive { liveCount -= 1 }
            m.slot = old.slot
        } else if m.isNode {
            m.slot = Int32(order.count)
            order.append(id)
        } else {
            m.slot = -1
        }
        let h = Self.rowHash(id, m.precedence)
        buckets[id.bucket] ^= h
        root ^= h
        if m.isNode && m.state.isLive { liveCount += 1 }
        rows[id] = m
    }

    /// Forgets a row (tombstone expiry).
    public mutating func remove(_ id: NodeID) {
        guard let old = rows.removeValue(forKey: id) else { return }
        let h = Self.rowHash(id, old.precedence)
        buckets[id.bucket] ^= h
        root ^= h
        if old.isNode && old.state.isLive { liveCount -= 1 }
        let slot = Int(old.slot)
        guard slot >= 0 else { return }
        let last = order.count - 1
        if slot != last {
            let moved = order[last]
            order[slot] = moved
            rows[moved]?.slot = Int32(slot)
        }
        order.removeLast()
    }

    /// Records how the row was last touched without changing its precedence.
    mutating func touch(_ id: NodeID, hops: UInt8, at: Instant) {
        rows[id]?.hops = hops
        rows[id]?.updatedAt = at
    }

    /// Up to `k` distinct live members chosen uniformly at random, none of them in `excluding`.
    /// Rejection sampling over `order` (dead rows are rare), with an exhaustive fallback.
    public func randomLive(_ k: Int, excluding: [NodeID], using rng: inout SeededRandom) -> [NodeID] {
        guard k > 0, !order.isEmpty else { return [] }
        var out = [NodeID]()
        out.reserveCapacity(k)
        var tries = 0
        let maxTries = 4 * k + 16
        while out.count < k && tries < maxTries {
            tries += 1
            let id = order[rng.below(order.count)]
            if out.contains(id) || excluding.contains(id) { continue }
            guard let m = rows[id], m.state.isLive else { continue }
            out.append(id)
        }
        if out.count < k {
            var pool = order.filter { id in
                !out.contains(id) && !excluding.contains(id) && (rows[id]?.state.isLive ?? false)
            }
            while out.count < k && !pool.isEmpty {
                pool.swapAt(rng.below(pool.count), pool.count - 1)
                out.append(pool.removeLast())
            }
        }
        return out
    }

    /// One random member in `state` (for reconnecting to the dead), or nil.
    public func randomMember(in state: MemberState, using rng: inout SeededRandom) -> NodeID? {
        guard !order.isEmpty else { return nil }
        for _ in 0..<16 {
            let id = order[rng.below(order.count)]
            if rows[id]?.state == state { return id }
        }
        let pool = order.filter { rows[$0]?.state == state }
        return pool.isEmpty ? nil : pool[rng.below(pool.count)]
    }

    /// All rows, sorted by id: a deterministic order whatever the hash seed of the process.
    public func sortedRows() -> [Member] { rows.values.sorted { $0.id < $1.id } }

    /// Rows in the given buckets, sorted by id.
    func rows(inBuckets set: [Bool]) -> [Member] {
        rows.values.filter { set[$0.id.bucket] }.sorted { $0.id < $1.id }
    }
}
