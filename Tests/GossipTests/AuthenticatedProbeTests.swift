@testable import Gossip
import HearsayModel
import Testing

/// Probes can be answered by their target only; relays act on the table, not on what a request
/// names; a single member's word does not bury a node (issue 11, points 1 and 2).
@Suite struct AuthenticatedProbeTests {
    /// Node 0 (knowing 1...4) probes someone; returns the instance, the ping and the target.
    func probing() throws -> (GossipInstance, Ping, target: Int) {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4], proven: false)
        let ping = try #require(node.tick(.probe, at: Fx.at(1)).pings.first?.0)
        let target = try #require((1...4).first { Fx.id($0) == ping.target })
        return (node, ping, target)
    }

    @Test("an ack with the probe's seq from someone other than its target does not count")
    func spoofedAck() throws {
        var (node, ping, target) = try probing()
        let other = (1...4).first { $0 != target }!
        _ = node.deliver(.ack(seq: ping.seq, from: Fx.id(other), updates: []), from: other, at: Fx.at(1.1))
        #expect(node.probe != nil)
        #expect(node.stats.spoofedAcks == 1)
        // The probe runs its course: the target is suspected.
        _ = node.tick(.probeTimeout(seq: ping.seq), at: Fx.at(1.5))
        _ = node.tick(.probe, at: Fx.at(2))
        #expect(node.table[Fx.id(target)]?.state == .suspect)

        // Positive control: the target's own ack ends the probe, and proves its address.
        var (fresh, ping2, target2) = try probing()
        _ = fresh.deliver(.ack(seq: ping2.seq, from: Fx.id(target2), updates: []), from: target2, at: Fx.at(1.1))
        #expect(fresh.probe == nil)
        #expect(fresh.proven.contains(Fx.address(target2)))
        _ = fresh.tick(.probe, at: Fx.at(2))
        #expect(fresh.table[Fx.id(target2)]?.state == .alive)
    }

    @Test("relayed acks and nacks count only from the members asked")
    func relayedOnlyFromHelpers() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4, 5, 6])
        let ping = try #require(node.tick(.probe, at: Fx.at(1)).pings.first?.0)
        let reqs = node.tick(.probeTimeout(seq: ping.seq), at: Fx.at(1.5)).pingReqs
        let helpers = Set(reqs.compactMap { r in (1...6).first { Fx.address($0) == r.to } })
        let outsider = try #require((1...6).first { Fx.id($0) != ping.target && !helpers.contains($0) })
        _ = node.deliver(.ack(seq: ping.seq, from: Fx.id(outsider), updates: []), from: outsider, at: Fx.at(1.6))
        _ = node.deliver(.nack(seq: ping.seq, from: Fx.id(outsider)), from: outsider, at: Fx.at(1.6))
        #expect(node.probe != nil)
        #expect(node.probe?.nacks == 0)
        #expect(node.stats.spoofedAcks == 2)
        let helper = try #require(helpers.first)
        _ = node.deliver(.ack(seq: ping.seq, from: Fx.id(helper), updates: []), from: helper, at: Fx.at(1.7))
        #expect(node.probe == nil)
    }

    @Test("probe sequence numbers are not predictable")
    func randomSeqs() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        var seqs = [UInt32]()
        for k in 0..<8 {
            let p = try #require(node.tick(.probe, at: Fx.at(1 + Double(k))).pings.first?.0)
            seqs.append(p.seq)
        }
        #expect(Set(seqs).count == seqs.count)
        #expect(zip(seqs, seqs.dropFirst()).contains { $1 != $0 &+ 1 })
        #expect(seqs.contains { $0 > 1 << 16 })
    }

    @Test("a ping-req pings the target at the table's address, and only for a member")
    func pingReqUsesTheTable() {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let elsewhere = PeerAddress("192.0.2.7:9")!
        let ds = node.deliver(.pingReq(seq: 5, from: Fx.id(1), target: Fx.id(2), address: elsewhere, updates: []), from: 1)
        #expect(ds.pings.map(\.to) == [Fx.address(2)])
        // A target the table does not hold as a node: nothing is sent.
        let none = node.deliver(.pingReq(seq: 6, from: Fx.id(1), target: Fx.id(40), address: elsewhere, updates: []), from: 1)
        #expect(none.sends.isEmpty)
        #expect(node.stats.relaysRefused == 1)
        // Only the target's ack is relayed back.
        let relaySeq = ds.pings[0].0.seq
        #expect(node.deliver(.ack(seq: relaySeq, from: Fx.id(3), updates: []), from: 3).acks.isEmpty)
        let relayed = node.deliver(.ack(seq: relaySeq, from: Fx.id(2), updates: []), from: 2).acks
        #expect(relayed.map(\.to) == [Fx.address(1)])
        #expect(relayed.first?.0.seq == 5)
    }

    @Test("one member's death claim is a suspicion that its live subject refutes")
    func oneDeathClaimIsRefuted() throws {
        var a = Fx.instance(0, knowing: [1, 2, 3])
        var victim = Fx.instance(1, knowing: [0, 2, 3])
        let claim = Update(.dead(id: Fx.id(1), incarnation: 1, from: Fx.id(2)))
        let ds = a.deliver(.push(updates: [claim]), from: 2, at: Fx.at(1))
        #expect(a.table[Fx.id(1)]?.state == .suspect)
        #expect(a.stats.deathsDowngraded == 1)
        // The victim hears the claim (forwarded by a, or by its prober) and refutes it.
        let forwarded = try #require(ds.pushes.first { $0.to == Fx.address(1) } ?? ds.pushes.first)
        let refutation = victim.deliver(.push(updates: forwarded.0), from: 0, at: Fx.at(1.01))
        #expect(victim.me.version.incarnation == 2)
        let news = try #require(refutation.pushes.first { $0.0.contains { $0.entry == victim.me } })
        _ = a.deliver(.push(updates: news.0), from: 1, at: Fx.at(1.02))
        #expect(a.table[Fx.id(1)]?.state == .alive)
        #expect(a.table[Fx.id(1)]?.entry.version.incarnation == 2)
    }
}
