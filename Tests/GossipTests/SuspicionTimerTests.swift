@testable import Gossip
import HearsayModel
import Testing

/// Lifeguard's dynamic suspicion timeout, as the instance runs it.
@Suite struct SuspicionTimerTests {
    /// Node 0 knows 1...5 (n = 6, so k = 3 and the LAN's timeouts apply); node 2
    /// suspects node 1 at t = 0.
    func suspected() throws -> (GossipInstance, deadline: Instant) {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4, 5])
        let ds = node.deliver(.push(updates: [Update(.suspect(id: Fx.id(1), incarnation: 1, from: Fx.id(2)))]), from: 2)
        #expect(node.table[Fx.id(1)]?.state == .suspect)
        let deadline = try #require(ds.scheduled(.suspicion(Fx.id(1))))
        #expect(deadline == Fx.at(6))
        // As if node 0's own probe of node 1 had failed too: these tests are about Lifeguard's
        // timeouts. A suspicion only heard of is verified first (VerificationTests).
        node.suspicions[Fx.id(1)]?.firstHand = true
        return (node, deadline)
    }

    @Test func unrefutedSuspicionEndsInDeath() throws {
        var (node, deadline) = try suspected()
        let id1 = Fx.id(1)

        // Early firings (timers are never cancelled) change nothing.
        #expect(node.tick(.suspicion(id1), at: Fx.at(2)).isEmpty)
        #expect(node.tick(.suspicion(id1), at: Fx.at(5.9)).isEmpty)
        #expect(node.table[id1]?.state == .suspect)

        let ds = node.tick(.suspicion(id1), at: deadline)
        #expect(node.table[id1]?.state == .dead)
        #expect(node.table[id1]?.claimIncarnation == 1)
        #expect(node.table.liveCount == 5)
        #expect(node.stats.deathsDeclared == 1)
        #expect(ds.events.contains { $0.id == id1 && $0.previous == .suspect && $0.state == .dead })
        let deadPushes = ds.pushes.filter { $0.0.contains { $0.isDead(id1, incarnation: 1) } }
        #expect(deadPushes.count == Fx.config.eagerFanout)
        #expect(!deadPushes.contains { $0.to == Fx.address(1) })  // the dead are not gossiped to
        // The news carries this node as its origin.
        #expect(deadPushes.first?.0.first?.claim?.claimant == Fx.id(0))

        // Only once.
        #expect(node.tick(.suspicion(id1), at: deadline + .seconds(1)).isEmpty)
        #expect(node.stats.deathsDeclared == 1)
    }

    @Test func independentConfirmationsShortenTheTimeout() throws {
        var (node, _) = try suspected()
        let id1 = Fx.id(1)
        var last: Instant?
        for confirmer in [3, 4, 5] {
            let ds = node.deliver(
                .push(updates: [Update(.suspect(id: id1, incarnation: 1, from: Fx.id(confirmer)))]),
                from: confirmer, at: Fx.at(0.1))
            let at = try #require(ds.scheduled(.suspicion(id1)))
            if let last { #expect(at < last) }
            last = at
        }
        #expect(last == Fx.at(0) + GossipConfig.lan.suspicionMinTimeout)  // k = 3 confirmations: the minimum
        #expect(node.suspicions[id1]?.confirmations == 3)

        // A confirmation from the first suspecter again, or from the same member twice, is no news.
        let dup = node.deliver(.push(updates: [Update(.suspect(id: id1, incarnation: 1, from: Fx.id(3)))]), from: 3,
                               at: Fx.at(0.2))
        #expect(dup.sends.isEmpty && dup.schedules.isEmpty)

        _ = node.tick(.suspicion(id1), at: Fx.at(2))
        #expect(node.table[id1]?.state == .dead)
    }

    @Test func confirmationsMakeDeathComeEarlier() throws {
        var (lonely, _) = try suspected()
        var (confirmed, _) = try suspected()
        let id1 = Fx.id(1)
        for c in [3, 4] {
            _ = confirmed.deliver(.push(updates: [Update(.suspect(id: id1, incarnation: 1, from: Fx.id(c)))]), from: c)
        }
        // Fire both every 100 ms and see who dies first.
        func deathTime(_ node: inout GossipInstance) -> Instant? {
            for step in 1...80 {
                let t = Fx.at(Double(step) / 10)
                _ = node.tick(.suspicion(id1), at: t)
                if node.table[id1]?.state == .dead { return t }
            }
            return nil
        }
        let early = try #require(deathTime(&confirmed))
        let late = try #require(deathTime(&lonely))
        #expect(early < late)
        #expect(late == Fx.at(6))
        // Two of three confirmations: max - (max - min) · log 3 / log 4, fired on the next 100 ms step.
        let lan = GossipConfig.lan
        let expected = Suspicion.timeout(confirmations: 2, k: 3, min: lan.suspicionMinTimeout, max: lan.suspicionMaxTimeout)
        #expect(early == Fx.at((expected.seconds * 10).rounded(.up) / 10))
    }

    @Test func suspicionAboutADeadMemberDoesNotRestartIt() throws {
        var (node, deadline) = try suspected()
        _ = node.tick(.suspicion(Fx.id(1)), at: deadline)
        let ds = node.deliver(.push(updates: [Update(.suspect(id: Fx.id(1), incarnation: 1, from: Fx.id(4)))]), from: 4,
                              at: deadline + .seconds(1))
        #expect(node.table[Fx.id(1)]?.state == .dead)
        #expect(ds.isEmpty)
    }
}
