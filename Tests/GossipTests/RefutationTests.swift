@testable import Gossip
import HearsayModel
import Testing

/// SWIM §4.2: a node suspected or declared dead comes back with a higher incarnation.
@Suite struct RefutationTests {
    enum Claim: CaseIterable { case suspect, dead }

    static func update(_ claim: Claim, about i: Int, incarnation: UInt64, from: Int) -> Update {
        switch claim {
        case .suspect: Update(.suspect(id: Fx.id(i), incarnation: incarnation, from: Fx.id(from)))
        case .dead: Update(.dead(id: Fx.id(i), incarnation: incarnation, from: Fx.id(from)))
        }
    }

    @Test(arguments: Claim.allCases)
    func claimAboutSelfIsRefuted(claim: Claim) throws {
        let incarnation: UInt64 = 1
        var node = Fx.instance(0, knowing: [1, 2, 3, 4])
        #expect(node.me.version.incarnation == 1)
        // As a suspecter sends it: the claim with its own entry, which leaves room for the answer.
        let ds = node.deliver(.push(updates: [Self.update(claim, about: 0, incarnation: incarnation, from: 1),
                                              Update(.entry(Fx.signed(1)))]),
                              from: 1, at: Fx.at(4))
        #expect(node.me.version.incarnation > incarnation)
        #expect(node.me.version == EntryVersion(incarnation: incarnation + 1, sequence: 0))
        #expect(node.me.hasValidSignature)
        #expect(node.stats.refutations == 1)
        let row = try #require(node.table[Fx.id(0)])
        #expect(row.state == .alive)
        #expect(row.entry == node.me)

        // The new entry goes out at once: eager push, and straight to the claimant (node 1).
        let carrying = ds.pushes.filter { $0.0.contains { $0.entry == node.me } }
        #expect(carrying.count == Fx.config.eagerFanout + 1)
        #expect(carrying.contains { $0.to == Fx.address(1) })
        #expect(!carrying.contains { $0.to == Fx.address(0) })
        #expect(ds.events.contains { $0.id == Fx.id(0) && $0.state == .alive && $0.precedence == .entry(node.me.version) })
        // The claim itself is not forwarded as news.
        #expect(!ds.pushes.contains { $0.0.contains { $0.isSuspect(Fx.id(0)) || $0.isDead(Fx.id(0)) } })
    }

    @Test(arguments: Claim.allCases)
    func claimAgainstAnOlderIncarnationIsAnsweredNotRefuted(claim: Claim) {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        _ = node.deliver(.push(updates: [Self.update(claim, about: 0, incarnation: 1, from: 1)]), from: 1)
        #expect(node.me.version.incarnation == 2)
        // Someone who missed the refutation repeats the old claim (twice in one packet): no new
        // incarnation, but the sender alone is sent the current entry, once (its address has
        // answered a probe: the reply is not capped).
        node.prove(Fx.address(2))
        let stale = Self.update(claim, about: 0, incarnation: 1, from: 2)
        let ds = node.deliver(.push(updates: [stale, stale]), from: 2)
        #expect(node.me.version.incarnation == 2)
        #expect(node.stats.refutations == 1)
        #expect(node.stats.reassertions == 1)
        #expect(ds.sends.count == 1)
        #expect(ds.pushes.first?.to == Fx.address(2))
        #expect(ds.pushes.first?.0.map(\.entry) == [node.me])
    }

    @Test func ownOlderEntryFromAPreviousLifeIsRefuted() {
        // Someone still spreads this node's entry of a previous life, newer than the current one.
        var node = Fx.instance(0, knowing: [1, 2])
        let ds = node.deliver(.push(updates: [Update(.entry(Fx.signed(0, inc: 6, seq: 2)))]), from: 1)
        #expect(node.me.version == EntryVersion(incarnation: 7, sequence: 0))
        #expect(ds.pushes.contains { $0.0.contains { $0.entry == node.me } })
    }

    @Test func refutationAlsoWorksThroughPingPiggyback() {
        var node = Fx.instance(0, knowing: [1, 2])
        let ds = node.deliver(.ping(seq: 3, from: Fx.id(1), target: Fx.id(0),
                                    updates: [Self.update(.suspect, about: 0, incarnation: 1, from: 1)]), from: 1)
        #expect(ds.acks.count == 1)
        #expect(node.me.version.incarnation == 2)
    }
}
