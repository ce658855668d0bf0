import HearsayModel
import Testing

@testable import Gossip

/// Suspect and dead claims are not signed: a forged one must not crash a node or push its
/// incarnation to the end of its range.
@Suite struct ForgedClaimTests {
    static func node() throws -> GossipInstance {
        var rng = SeededRandom(seed: 99)
        let id = NodeIdentity.deterministic(using: &rng)
        return try GossipInstance(
            config: .lan, identity: id,
            entry: PresenceEntry(publicKey: id.publicKey, handle: "victim", addresses: [.ipv4(10, 0, 0, 1)],
                                 gossipPort: 7946, chatPort: 7947, version: EntryVersion(incarnation: 5, sequence: 0)),
            seed: 1)
    }

    @Test("a claim at an implausible incarnation is ignored and counted", arguments: [UInt64.max, UInt64.max - 1, UInt64(5 + (1 << 33))] as [UInt64])
    func implausible(incarnation: UInt64) throws {
        var n = try Self.node()
        let forger = NodeID(hi: 1, lo: 2)
        for kind in [Update.Kind.suspect(id: n.id, incarnation: incarnation, from: forger),
                     .dead(id: n.id, incarnation: incarnation, from: forger)] {
            let out = n.handle(.datagram(.push(updates: [Update(kind)]), from: PeerAddress("10.0.0.9:7946")!),
                               now: .zero + .seconds(1))
            #expect(out.allSatisfy { if case .send = $0 { false } else { true } })
        }
        #expect(n.me.version.incarnation == 5)
        #expect(n.stats.implausibleClaims == 2)
    }

    @Test("a plausible claim is refuted just above it")
    func plausible() throws {
        var n = try Self.node()
        _ = n.handle(.datagram(.push(updates: [Update(.suspect(id: n.id, incarnation: 9, from: NodeID(hi: 1, lo: 2)))]),
                               from: PeerAddress("10.0.0.9:7946")!), now: .zero + .seconds(1))
        #expect(n.me.version.incarnation == 10)
        #expect(n.stats.refutations == 1)
    }
}
