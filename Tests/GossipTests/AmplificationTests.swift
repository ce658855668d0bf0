@testable import Gossip
import HearsayModel
import Testing

/// A reply to a source whose address has not proven itself is at most one datagram, no larger
/// than what it sent (issue 11, point 3): a member cannot aim this node at a victim by
/// spoofing the victim's address.
@Suite struct AmplificationTests {
    /// The datagrams `ds` sends to `to`, and their bytes.
    static func replies(_ ds: [Directive], to: PeerAddress) -> (packets: Int, bytes: Int) {
        let s = ds.sends.filter { $0.to == to }
        return (s.count, s.reduce(0) { $0 + GossipCodec.encodedSize($1.message) })
    }

    /// Node 0 knowing 1...12, with news queued for piggybacking and entries to graft.
    static func busyNode() -> GossipInstance {
        var node = Fx.instance(0, knowing: Array(1...12), proven: false)
        for i in 20..<30 { _ = node.deliver(.push(updates: [Update(.entry(Fx.signed(i)))]), from: 1) }
        return node
    }

    @Test("an ihave from an unproven source draws at most one graft, no larger")
    func ihave() {
        var node = Self.busyNode()
        let digests = (30..<60).map { Digest(id: Fx.id($0), precedence: .entry(EntryVersion(incarnation: 1, sequence: 0))) }
        let ihave = GossipMessage.ihave(digests: digests)
        let ds = node.deliver(ihave, from: 2)
        let r = Self.replies(ds, to: Fx.address(2))
        #expect(r.packets == 1)
        #expect(r.bytes <= GossipCodec.encodedSize(ihave))
    }

    @Test("a graft from an unproven source is answered only with a challenge; once proven, in full")
    func graft() {
        var node = Self.busyNode()
        let graft = GossipMessage.graft(digests: (20..<30).map {
            Digest(id: Fx.id($0), precedence: .entry(EntryVersion(incarnation: 1, sequence: 0)))
        })
        let ds = node.deliver(graft, from: 3)
        let r = Self.replies(ds, to: Fx.address(3))
        #expect(r.packets <= 1)
        #expect(r.bytes <= GossipCodec.encodedSize(graft))
        #expect(node.stats.amplificationRefused >= 1)
        // Positive control: the challenge answered, the same graft gets every entry it asked for.
        guard case .challenge(let nonce)? = ds.sends.first(where: { $0.to == Fx.address(3) })?.message else {
            Issue.record("no challenge")
            return
        }
        _ = node.deliver(.response(seq: nonce), from: 3)
        let full = node.deliver(graft, from: 3)
        #expect(full.pushes.flatMap(\.0).count == 10)
    }

    @Test("a ping from an unproven source gets one ack, no larger than the ping")
    func ping() {
        var node = Self.busyNode()
        let ping = GossipMessage.ping(seq: 7, from: Fx.id(4), target: Fx.id(0), updates: [])
        let ds = node.deliver(ping, from: 4)
        let r = Self.replies(ds, to: Fx.address(4))
        #expect(r.packets == 1)
        #expect(r.bytes <= GossipCodec.encodedSize(ping))
        #expect(ds.acks.first?.0.seq == 7)
        // A proven source gets the queued news piggybacked.
        node.prove(Fx.address(4))
        let rich = node.deliver(ping, from: 4)
        #expect(!(rich.acks.first?.0.updates.isEmpty ?? true))
    }

    @Test("a stale claim in a ping is answered inside the ack, within its size")
    func reassertInAck() {
        var node = Fx.instance(0, knowing: [1, 2, 3], proven: false)
        _ = node.deliver(.push(updates: [Update(.suspect(id: Fx.id(0), incarnation: 1, from: Fx.id(1)))]), from: 1)
        #expect(node.me.version.incarnation == 2)
        // A verifier's ping: the stale claim and its own entry.
        let ping = GossipMessage.ping(seq: 9, from: Fx.id(2), target: Fx.id(0), updates: [
            Update(.suspect(id: Fx.id(0), incarnation: 1, from: Fx.id(1))), Update(.entry(Fx.signed(2))),
        ])
        let ds = node.deliver(ping, from: 2)
        let r = Self.replies(ds, to: Fx.address(2))
        #expect(r.packets == 1)
        #expect(r.bytes <= GossipCodec.encodedSize(ping))
        #expect(ds.acks.first?.0.updates.first?.entry == node.me)
    }
}
