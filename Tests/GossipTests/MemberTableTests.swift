@testable import Gossip
import HearsayModel
import Testing

@Suite struct MemberTableTests {
    /// Pre-signed versions for a pool of nodes and two foreign entries (signing is the slow part).
    static let pool: [[SignedEntry]] = (0..<24).map { i in
        [Fx.signed(i), Fx.signed(i, seq: 1), Fx.signed(i, inc: 2)]
    } + [
        [Fx.foreign(1, name: "carol@laptop"), Fx.foreign(1, name: "carol@laptop", seq: 1)],
        [Fx.foreign(2, name: "dave@desk")],
    ]

    /// What a table should hold, computed naively.
    struct Model {
        var rows: [NodeID: Member] = [:]

        func expectMatches(_ t: MemberTable, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(t.count == rows.count, sourceLocation: sourceLocation)
            var buckets = [UInt64](repeating: 0, count: 256)
            var root: UInt64 = 0
            for (id, m) in rows {
                let h = MemberTable.rowHash(id, m.precedence)
                buckets[id.bucket] ^= h
                root ^= h
                #expect(t[id]?.precedence == m.precedence, sourceLocation: sourceLocation)
                #expect(t[id]?.state == m.state, sourceLocation: sourceLocation)
            }
            #expect(t.buckets == buckets, sourceLocation: sourceLocation)
            #expect(t.root == root, sourceLocation: sourceLocation)
            #expect(t.root == t.buckets.reduce(0, ^), sourceLocation: sourceLocation)
            #expect(t.liveCount == rows.values.count { $0.isNode && $0.state.isLive }, sourceLocation: sourceLocation)
            let nodes = Set(rows.values.filter(\.isNode).map(\.id))
            #expect(t.order.count == nodes.count, sourceLocation: sourceLocation)
            #expect(Set(t.order) == nodes, sourceLocation: sourceLocation)
            for (slot, id) in t.order.enumerated() {
                #expect(t[id]?.slot == Int32(slot), "slot of \(id)", sourceLocation: sourceLocation)
            }
            for m in rows.values where !m.isNode {
                #expect(t[m.id]?.slot == -1, sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func randomOperationsKeepHashesCountsAndOrderConsistent(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        var table = MemberTable()
        var model = Model()
        for step in 0..<600 {
            let versions = Self.pool[rng.below(Self.pool.count)]
            let e = versions[rng.below(versions.count)]
            if rng.below(4) == 0 {
                table.remove(e.id)
                model.rows[e.id] = nil
            } else {
                let state = MemberState.allCases[rng.below(MemberState.allCases.count)]
                let m = Fx.member(e, state: state, claim: UInt64(rng.below(3)), at: Instant(nanoseconds: Int64(step)))
                table.put(m)
                model.rows[e.id] = m
            }
            if step % 10 == 0 || step > 590 { model.expectMatches(table) }
        }
        // Empty it: everything returns to zero.
        for id in Array(model.rows.keys) {
            table.remove(id)
            model.rows[id] = nil
        }
        model.expectMatches(table)
        #expect(table.root == 0 && table.liveCount == 0 && table.order.isEmpty && table.count == 0)
    }

    @Test func insertionOrderDoesNotChangeTheHashes() {
        var rows: [Member] = []
        for (n, versions) in Self.pool.enumerated() {
            let state: MemberState = [.alive, .suspect, .dead, .left][n % 4]
            rows.append(Fx.member(versions.last!, state: state, claim: 2))
        }
        var a = MemberTable()
        for m in rows { a.put(m) }
        var b = MemberTable()
        var rng = SeededRandom(seed: 11)
        // b also sees older versions and a stray row first, which are overwritten or removed.
        b.put(Fx.member(Fx.signed(40)))
        for m in rows.shuffled(using: &rng) {
            b.put(Fx.member(Self.pool.first { $0.last!.id == m.id }!.first!, state: .alive))
            b.put(m)
        }
        b.remove(Fx.id(40))
        #expect(a.root == b.root)
        #expect(a.buckets == b.buckets)
        #expect(a.liveCount == b.liveCount)
        #expect(a.order != b.order)  // different orders, same content
        #expect(Set(a.order) == Set(b.order))

        // One row at another precedence changes the root and exactly one bucket.
        var c = a
        let changed = rows[0]
        c.put(Fx.member(changed.entry, state: .dead, claim: 9))
        #expect(c.root != a.root)
        let differing = (0..<256).filter { c.buckets[$0] != a.buckets[$0] }
        #expect(differing == [changed.id.bucket])
    }

    @Test func randomLiveReturnsDistinctLiveNonExcludedMembers() {
        var table = MemberTable()
        var live = Set<NodeID>()
        for i in 0..<20 {
            let state: MemberState = [.alive, .alive, .suspect, .dead, .left][i % 5]
            table.put(Fx.member(Self.pool[i][0], state: state, claim: 1))
            if state.isLive { live.insert(Fx.id(i)) }
        }
        table.put(Fx.member(Self.pool[24][0]))  // a foreign row is never chosen
        #expect(table.liveCount == live.count)
        var rng = SeededRandom(seed: 3)
        for trial in 0..<300 {
            let k = trial % 16
            let excluding = (0..<rng.below(6)).map { _ in Fx.id(rng.below(20)) }
            let eligible = live.subtracting(excluding)
            let got = table.randomLive(k, excluding: excluding, using: &rng)
            #expect(Set(got).count == got.count, "duplicates in \(got)")
            #expect(got.allSatisfy { live.contains($0) })
            #expect(got.allSatisfy { !excluding.contains($0) })
            #expect(got.count == min(k, eligible.count))
        }
        // Everyone eventually gets picked.
        var seen = Set<NodeID>()
        for _ in 0..<200 { seen.formUnion(table.randomLive(2, excluding: [], using: &rng)) }
        #expect(seen == live)
        #expect(MemberTable().randomLive(3, excluding: [], using: &rng).isEmpty)
    }

    @Test func removeMovesTheLastNodeIntoTheFreedSlot() {
        var t = MemberTable()
        let ids = (0..<4).map(Fx.id)
        for i in 0..<4 { t.put(Fx.member(Self.pool[i][0])) }
        t.put(Fx.member(Self.pool[24][0]))  // foreign: no slot
        #expect(t.order == ids)

        t.remove(ids[1])
        #expect(t.order == [ids[0], ids[3], ids[2]])
        #expect(t[ids[3]]?.slot == 1)
        #expect(t[ids[2]]?.slot == 2)
        #expect(t[ids[1]] == nil)

        t.remove(ids[2])  // the last slot: nothing moves
        #expect(t.order == [ids[0], ids[3]])
        #expect(t[ids[0]]?.slot == 0 && t[ids[3]]?.slot == 1)

        let before = (t.root, t.order, t.count)
        t.remove(Fx.id(50))  // unknown: no-op
        #expect(t.root == before.0 && t.order == before.1 && t.count == before.2)

        t.remove(Self.pool[24][0].id)  // foreign: order untouched
        #expect(t.order == [ids[0], ids[3]] && t.count == 2)

        // Re-adding takes a fresh slot at the end; replacing keeps the slot.
        t.put(Fx.member(Self.pool[1][0]))
        #expect(t.order == [ids[0], ids[3], ids[1]])
        t.put(Fx.member(Self.pool[0][2], state: .suspect, claim: 2))
        #expect(t.order == [ids[0], ids[3], ids[1]] && t[ids[0]]?.slot == 0)
        #expect(t.root == t.buckets.reduce(0, ^))
    }
}
