@testable import Gossip
import HearsayModel
import Testing

/// SWIM failure detection: pings, acks, indirect probes through relays, and nacks.
@Suite struct ProbeTests {
    // MARK: Answering

    @Test func pingForThisNodeIsAckedWithTheSameSeq() {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let ds = node.deliver(.ping(seq: 4242, from: Fx.id(1), target: Fx.id(0), updates: []), from: 1)
        let acks = ds.acks
        #expect(acks.count == 1)
        #expect(acks.first?.0.seq == 4242)
        #expect(acks.first?.0.from == Fx.id(0))
        #expect(acks.first?.to == Fx.address(1))
        #expect(node.stats.misdirected == 0)
    }

    @Test func pingForAnotherIdIsCountedAndNotAcked() {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let ds = node.deliver(.ping(seq: 9, from: Fx.id(1), target: Fx.id(2), updates: []), from: 1)
        #expect(ds.acks.isEmpty)
        #expect(ds.sends.isEmpty)
        #expect(node.stats.misdirected == 1)
    }

    // MARK: The probe cycle

    /// Starts a probe on node 0 (which knows 1...4) and returns the instance, the ping and its target.
    func startProbe() throws -> (GossipInstance, Ping, target: Int) {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4])
        let ds = node.tick(.probe, at: Fx.at(1))
        let pings = ds.pings
        try #require(pings.count == 1)
        let (ping, to) = pings[0]
        let target = try #require((1...4).first { Fx.id($0) == ping.target })
        #expect(to == Fx.address(target))
        #expect(ping.from == Fx.id(0))
        #expect(ds.scheduled(.probeTimeout(seq: ping.seq)) == Fx.at(1) + GossipConfig.lan.probeTimeout)
        #expect(ds.scheduled(.probe) == Fx.at(2))
        #expect(node.stats.probes == 1)
        return (node, ping, target)
    }

    @Test func unansweredProbeGoesIndirectThenSuspects() throws {
        var (node, ping, target) = try startProbe()
        let tid = Fx.id(target)

        // No ack: ask indirectChecks other members to probe the target.
        let indirect = node.tick(.probeTimeout(seq: ping.seq), at: Fx.at(1.5))
        let reqs = indirect.pingReqs
        #expect(reqs.count == Fx.config.indirectChecks)
        #expect(Set(reqs.map(\.to)).count == reqs.count)
        for (req, to) in reqs {
            #expect(req.seq == ping.seq)
            #expect(req.target == tid)
            #expect(req.address == Fx.address(target))
            #expect(req.from == Fx.id(0))
            #expect(to != Fx.address(target) && to != Fx.address(0))
        }
        #expect(node.table[tid]?.state == .alive)

        // Still nothing by the next period: the target is suspected, and told so.
        let next = node.tick(.probe, at: Fx.at(2))
        #expect(node.table[tid]?.state == .suspect)
        #expect(node.table[tid]?.claimIncarnation == 1)
        #expect(node.stats.suspicionsRaised == 1)
        #expect(node.stats.probeFailures == 1)
        let suspectPushes = next.pushes.filter { $0.0.contains { $0.isSuspect(tid, incarnation: 1) } }
        #expect(suspectPushes.contains { $0.to == Fx.address(target) })
        #expect(suspectPushes.count { $0.to != Fx.address(target) } >= 2)
        #expect(next.events.contains { $0.id == tid && $0.previous == .alive && $0.state == .suspect })
        #expect(next.scheduled(.suspicion(tid)) != nil)
        // No nacks came back from three relays: Lifeguard says the trouble may be local.
        #expect(node.awareness == 3)
    }

    @Test func suspectedTargetIsToldDirectlyEvenWithoutEagerPush() throws {
        var config = Fx.config
        config.eagerFanout = 0
        var node = Fx.instance(0, knowing: [1], config: config)
        let ping = try #require(node.tick(.probe, at: Fx.at(1)).pings.first)
        #expect(ping.to == Fx.address(1))
        _ = node.tick(.probeTimeout(seq: ping.0.seq), at: Fx.at(1.5))  // no one to ask
        let ds = node.tick(.probe, at: Fx.at(2))
        #expect(node.table[Fx.id(1)]?.state == .suspect)
        #expect(ds.pushes.count == 1)
        #expect(ds.pushes.first?.to == Fx.address(1))
        // The signed claim, and this node's entry (room in a reply for the refutation).
        #expect(ds.pushes.first?.0.count == 2)
        #expect(ds.pushes.first?.0.first?.isSuspect(Fx.id(1), incarnation: 1) == true)
        #expect(ds.pushes.first?.0.last?.entry == node.me)
        #expect(node.awareness == 1)  // a failed probe with no relays to vouch for us
    }

    @Test func ackedProbeLeavesTheTargetAlive() throws {
        var (node, ping, target) = try startProbe()
        let tid = Fx.id(target)
        _ = node.deliver(.ack(seq: ping.seq, from: tid, updates: []), from: target, at: Fx.at(1.001))
        #expect(node.lastProbeRTT[tid] == .milliseconds(1))
        #expect(node.tick(.probeTimeout(seq: ping.seq), at: Fx.at(1.5)).pingReqs.isEmpty)
        let next = node.tick(.probe, at: Fx.at(2))
        #expect(node.table[tid]?.state == .alive)
        #expect(node.stats.probeFailures == 0)
        #expect(node.stats.suspicionsRaised == 0)
        #expect(!next.pushes.contains { $0.0.contains { $0.isSuspect(tid) } })
        #expect(next.pings.count == 1)
        #expect(node.awareness == 0)
    }

    @Test func ackRelayedThroughAPingReqAlsoCounts() throws {
        var (node, ping, target) = try startProbe()
        let tid = Fx.id(target)
        let reqs = node.tick(.probeTimeout(seq: ping.seq), at: Fx.at(1.5)).pingReqs
        let relay = try #require((1...4).first { Fx.address($0) == reqs.first?.to })
        _ = node.deliver(.ack(seq: ping.seq, from: Fx.id(relay), updates: []), from: relay, at: Fx.at(1.6))
        _ = node.tick(.probe, at: Fx.at(2))
        #expect(node.table[tid]?.state == .alive)
        #expect(node.stats.probeFailures == 0)
        #expect(node.lastProbeRTT[tid] == nil)  // indirect round trips are not direct RTTs
    }

    @Test func nacksFromRelaysSpareLocalHealth() throws {
        var (node, ping, _) = try startProbe()
        let reqs = node.tick(.probeTimeout(seq: ping.seq), at: Fx.at(1.5)).pingReqs
        for (_, to) in reqs {
            let relay = try #require((1...4).first { Fx.address($0) == to })
            _ = node.deliver(.nack(seq: ping.seq, from: Fx.id(relay)), from: relay, at: Fx.at(1.9))
        }
        _ = node.tick(.probe, at: Fx.at(2))
        // All relays answered: the failure is the target's, not ours.
        #expect(node.awareness == 0)
        #expect(node.stats.suspicionsRaised == 1)
    }

    @Test func suspectMembersHearOfItFromTheirProber() {
        // Lifeguard's buddy system: a ping to a suspect carries the suspicion.
        var node = Fx.instance(0, knowing: [1], overrides: [Fx.member(Fx.signed(1), state: .suspect, claim: 1)])
        let ping = node.tick(.probe, at: Fx.at(1)).pings.first
        #expect(ping?.0.target == Fx.id(1))
        #expect(ping?.0.updates.first?.isSuspect(Fx.id(1), incarnation: 1) == true)
    }

    // MARK: Relaying

    @Test func relayPingsTheTargetAndNacksOnSilence() throws {
        var relay = Fx.instance(0, knowing: [1, 2])
        let ds = relay.deliver(.pingReq(seq: 77, from: Fx.id(1), target: Fx.id(2), address: Fx.address(2), updates: []),
                               from: 1, at: Fx.at(10))
        let pings = ds.pings
        try #require(pings.count == 1)
        let (ping, to) = pings[0]
        #expect(to == Fx.address(2))
        #expect(ping.target == Fx.id(2))
        #expect(ping.from == Fx.id(0))
        let timeoutAt = try #require(ds.scheduled(.relayTimeout(seq: ping.seq)))
        #expect(timeoutAt > Fx.at(10) && timeoutAt < Fx.at(10.5))
        #expect(ds.acks.isEmpty && ds.nacks.isEmpty)

        let out = relay.tick(.relayTimeout(seq: ping.seq), at: timeoutAt)
        #expect(out.nacks.count == 1)
        #expect(out.nacks.first?.0.seq == 77)
        #expect(out.nacks.first?.0.from == Fx.id(0))
        #expect(out.nacks.first?.to == Fx.address(1))
        // Only once.
        #expect(relay.tick(.relayTimeout(seq: ping.seq), at: timeoutAt).sends.isEmpty)
    }

    @Test func relayForwardsTheTargetsAckWithTheRequestersSeq() throws {
        var relay = Fx.instance(0, knowing: [1, 2])
        let ds = relay.deliver(.pingReq(seq: 77, from: Fx.id(1), target: Fx.id(2), address: Fx.address(2), updates: []),
                               from: 1, at: Fx.at(10))
        let ping = try #require(ds.pings.first?.0)
        let out = relay.deliver(.ack(seq: ping.seq, from: Fx.id(2), updates: []), from: 2, at: Fx.at(10.01))
        #expect(out.acks.count == 1)
        #expect(out.acks.first?.0.seq == 77)
        #expect(out.acks.first?.to == Fx.address(1))
        // The relay probe is over: no nack later.
        #expect(relay.tick(.relayTimeout(seq: ping.seq), at: Fx.at(11)).nacks.isEmpty)
    }

    @Test func leftNodeStopsProbing() {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        _ = node.leave(now: Fx.at(1))
        #expect(node.tick(.probe, at: Fx.at(2)).pings.isEmpty)
    }
}
