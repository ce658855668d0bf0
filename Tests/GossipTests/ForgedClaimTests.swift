import HearsayModel
import Testing

@testable import Gossip

/// Claims are signed by their claimant and believed only from a member, at an incarnation the
/// subject has published: a forged one changes nothing, and a node answers every claim about
/// itself that others could believe.
@Suite struct ForgedClaimTests {
    static func noSends(_ out: [Directive]) -> Bool { out.allSatisfy { if case .send = $0 { false } else { true } } }

    @Test("a datagram from a host that is not a member changes nothing", arguments: [Claim.Kind.suspect, .dead])
    func nonMember(kind: Claim.Kind) {
        var n = Fx.instance(0, knowing: [1, 2])
        let before = n.table.root
        let c = Fx.claim(kind, Fx.id(1), incarnation: 1, from: Fx.id(40))
        let out = n.handle(.datagram(.push(updates: [Update(.claim(c))]), from: Fx.address(40), sender: Fx.id(40)),
                           now: Fx.at(1))
        #expect(out.isEmpty)
        #expect(n.table.root == before)
        #expect(n.stats.unauthenticated == 1)
        // Positive control: the same claim, signed by member 2, is applied.
        let c2 = Fx.claim(kind, Fx.id(1), incarnation: 1, from: Fx.id(2))
        _ = n.deliver(.push(updates: [Update(.claim(c2))]), from: 2, at: Fx.at(1))
        #expect(n.table[Fx.id(1)]?.state == .suspect)
    }

    @Test("a claim whose signature does not verify is dropped and counted")
    func forgedSignature() {
        var n = Fx.instance(0, knowing: [1, 2])
        var c = Fx.claim(.suspect, Fx.id(1), incarnation: 1, from: Fx.id(2))
        c.signature[0] ^= 1
        _ = n.deliver(.push(updates: [Update(.claim(c))]), from: 2, at: Fx.at(1))
        #expect(n.table[Fx.id(1)]?.state == .alive)
        #expect(n.stats.rejectedForged == 1)
        // A claim in the name of a member by another (member 2 relays 1's claim it made up).
        let unsigned = Fx.claim(.suspect, Fx.id(1), incarnation: 1, from: NodeID(hi: 1, lo: 2))
        _ = n.deliver(.push(updates: [Update(.claim(unsigned))]), from: 2, at: Fx.at(1))
        #expect(n.table[Fx.id(1)]?.state == .alive)
        #expect(n.stats.unknownClaimant == 1)
    }

    @Test("a claim above the subject's known incarnation is dropped", arguments: [UInt64(2), 1 << 40, .max])
    func ahead(incarnation: UInt64) {
        var n = Fx.instance(0, knowing: [1, 2])
        let c = Fx.claim(.dead, Fx.id(1), incarnation: incarnation, from: Fx.id(2))
        _ = n.deliver(.push(updates: [Update(.claim(c))]), from: 2, at: Fx.at(1))
        #expect(n.table[Fx.id(1)]?.state == .alive)
        #expect(n.stats.claimsAhead == 1)
    }

    @Test("a claim about this node above its incarnation is ignored", arguments: [UInt64(2), 1 << 33, .max])
    func implausible(incarnation: UInt64) {
        var n = Fx.instance(0, knowing: [1, 2])
        for kind in [Claim.Kind.suspect, .dead] {
            let out = n.deliver(.push(updates: [Update(.claim(Fx.claim(kind, n.id, incarnation: incarnation, from: Fx.id(2))))]),
                                from: 2, at: Fx.at(1))
            #expect(Self.noSends(out))
        }
        #expect(n.me.version.incarnation == 1)
        #expect(n.stats.implausibleClaims == 2)
    }

    @Test("a claim about this node at its incarnation is refuted just above it")
    func plausible() {
        var n = Fx.instance(0, knowing: [1, 2])
        _ = n.deliver(.push(updates: [Update(.suspect(id: n.id, incarnation: 1, from: Fx.id(2)))]), from: 2, at: Fx.at(1))
        #expect(n.me.version.incarnation == 2)
        #expect(n.stats.refutations == 1)
    }
}
