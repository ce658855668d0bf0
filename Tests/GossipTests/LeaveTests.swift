@testable import Gossip
import HearsayModel
import Testing

/// Graceful leave and status changes: the node's own entry, re-signed and spread.
@Suite struct LeaveTests {
    @Test func leavePublishesASignedLeftEntry() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4])
        let ds = node.leave(now: Fx.at(30))
        #expect(node.hasLeft)
        #expect(node.me.entry.flags.contains(.left))
        #expect(node.me.entry.status == .offline)
        #expect(node.me.version == EntryVersion(incarnation: 1, sequence: 1))
        #expect(node.me.hasValidSignature)
        #expect(node.table[Fx.id(0)]?.state == .left)
        #expect(node.table.liveCount == 4)

        let pushes = ds.pushes.filter { $0.0.contains { $0.entry == node.me } }
        #expect(pushes.count == Fx.config.eagerFanout)
        #expect(ds.events.contains { $0.id == Fx.id(0) && $0.previous == .alive && $0.state == .left })

        // A member that receives it marks the node left.
        var other = Fx.instance(1, knowing: [0, 2, 3, 4])
        let got = other.deliver(.push(updates: pushes[0].0), from: 0, at: Fx.at(30.001))
        let row = try #require(other.table[Fx.id(0)])
        #expect(row.state == .left)
        #expect(row.entry.entry.flags.contains(.left))
        #expect(other.table.liveCount == 4)
        #expect(got.events.contains { $0.id == Fx.id(0) && $0.previous == .alive && $0.state == .left })
        // ...and spreads the news itself (eager push to the live members, not to the leaver).
        let forwarded = got.pushes.filter { $0.0.contains { $0.isEntry(of: Fx.id(0)) } }
        #expect(forwarded.count == 3)
        #expect(!forwarded.contains { $0.to == Fx.address(0) })
        // The leaver is no longer probed or chosen.
        var rng = SeededRandom(seed: 1)
        for _ in 0..<10 {
            #expect(!other.table.randomLive(4, excluding: [], using: &rng).contains(Fx.id(0)))
        }
    }

    @Test func leftEntryOfAStrangerIsNotLearned() {
        var node = Fx.instance(0, knowing: [1, 2])
        let ds = node.deliver(.push(updates: [Update(.entry(Fx.signed(7, seq: 1, flags: .left)))]), from: 1)
        #expect(node.table[Fx.id(7)] == nil)
        #expect(node.stats.unknownSubject == 1)
        #expect(ds.sends.isEmpty)
    }

    @Test func leftMemberIsReapedAfterTheRetention() throws {
        var node = Fx.instance(0, knowing: [1, 2])
        _ = node.deliver(.push(updates: [Update(.entry(Fx.signed(1, seq: 1, flags: .left)))]), from: 1, at: Fx.at(1))
        #expect(node.table[Fx.id(1)]?.state == .left)
        _ = node.tick(.reap, at: Fx.at(60))
        #expect(node.table[Fx.id(1)] != nil)
        let ds = node.tick(.reap, at: Fx.at(1) + Fx.config.tombstoneRetention)
        #expect(node.table[Fx.id(1)] == nil)
        #expect(node.table.order.count == 2)
        #expect(ds.events.contains { $0.id == Fx.id(1) && $0.previous == .left && $0.state == nil })
    }

    @Test func statusChangeBumpsTheSequenceAndSpreads() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let ds = try node.setStatus(.busy, text: "deep work", now: Fx.at(2))
        #expect(node.me.version == EntryVersion(incarnation: 1, sequence: 1))
        #expect(node.me.entry.status == .busy && node.me.entry.statusText == "deep work")
        #expect(node.table[Fx.id(0)]?.entry == node.me)
        #expect(ds.pushes.count == 3)
        #expect(ds.pushes.allSatisfy { $0.0.first?.entry == node.me && $0.0.first?.hops == 0 })
    }
}
