@testable import Gossip
import HearsayModel
import Testing

/// A node that only heard a suspicion checks the member itself before declaring it dead.
@Suite struct VerificationTests {
    /// Node 0 knows 1...5; node 2 suspects node 1 at t = 0; node 0 never probed node 1.
    func heardOf() throws -> (GossipInstance, deadline: Instant) {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4, 5])
        let ds = node.deliver(.push(updates: [Update(.suspect(id: Fx.id(1), incarnation: 1, from: Fx.id(2)))]), from: 2)
        #expect(node.suspicions[Fx.id(1)]?.firstHand == false)
        return (node, try #require(ds.scheduled(.suspicion(Fx.id(1)))))
    }

    @Test("at the deadline: a ping carrying the claim, not a death")
    func deadlineSendsVerificationPing() throws {
        var (node, deadline) = try heardOf()
        let ds = node.tick(.suspicion(Fx.id(1)), at: deadline)
        #expect(node.table[Fx.id(1)]?.state == .suspect)
        #expect(node.stats.deathsDeclared == 0)
        let pings = ds.pings.filter { $0.to == Fx.address(1) }
        #expect(pings.count == 1)
        #expect(pings.first?.0.updates.contains { $0.isSuspect(Fx.id(1)) } == true)
        #expect(ds.scheduled(.verifyTimeout(Fx.id(1))) == deadline + GossipConfig.lan.probeTimeout)
    }

    @Test("silence to every verification ping is death")
    func silenceIsDeath() throws {
        var (node, deadline) = try heardOf()
        _ = node.tick(.suspicion(Fx.id(1)), at: deadline)
        var t = deadline
        for attempt in 1...GossipInstance.verificationPings {
            t = t + GossipConfig.lan.probeTimeout
            let ds = node.tick(.verifyTimeout(Fx.id(1)), at: t)
            if attempt < GossipInstance.verificationPings {
                #expect(node.table[Fx.id(1)]?.state == .suspect)
                #expect(ds.pings.contains { $0.to == Fx.address(1) })
            } else {
                #expect(node.table[Fx.id(1)]?.state == .dead)
                #expect(ds.pushes.contains { $0.0.contains { $0.isDead(Fx.id(1), incarnation: 1) } })
            }
        }
        #expect(node.stats.deathsDeclared == 1)
        #expect(node.stats.verifications == 1)
    }

    @Test("an answer postpones the death; the member's current entry then clears the suspicion")
    func answerPostpones() throws {
        var (node, deadline) = try heardOf()
        let ds = node.tick(.suspicion(Fx.id(1)), at: deadline)
        let ping = try #require(ds.pings.first { $0.to == Fx.address(1) })
        let ack = node.deliver(.ack(seq: ping.0.seq, from: Fx.id(1), updates: []), from: 1, at: deadline + .milliseconds(1))
        #expect(node.stats.verificationsAnswered == 1)
        #expect(ack.scheduled(.suspicion(Fx.id(1))) == deadline + .milliseconds(1) + GossipConfig.lan.suspicionMinTimeout)
        // The verify timeout that was already scheduled no longer kills.
        _ = node.tick(.verifyTimeout(Fx.id(1)), at: deadline + GossipConfig.lan.probeTimeout)
        #expect(node.table[Fx.id(1)]?.state == .suspect)
        // The reasserted entry (higher incarnation) arrives.
        let refuted = Fx.signed(1, inc: 2)
        _ = node.deliver(.push(updates: [Update(.entry(refuted))]), from: 1, at: deadline + .milliseconds(2))
        #expect(node.table[Fx.id(1)]?.state == .alive)
        #expect(node.verifications.isEmpty)
        #expect(node.stats.deathsDeclared == 0)
    }
}
