@testable import Gossip
import HearsayModel
import Testing

/// What gossip does with peers found by mDNS: join the unknown, leave the live alone, probe soon
/// a node whose record went away.
@Suite struct DiscoveryInputTests {
    @Test func anUnknownPeerIsJoinedAtOnceWithThisNodesEntry() throws {
        var node = Fx.instance(0, knowing: [])
        let ds = node.discovered(Fx.address(5), id: Fx.id(5), now: Fx.at(1))
        let s = try #require(ds.streams.first)
        #expect(ds.streams.count == 1)
        #expect(s.to == Fx.address(5))
        guard case .syncRequest(let r) = s.message else { Issue.record("not a sync request: \(s.message)"); return }
        #expect(r.kind == .join)
        #expect(r.records.map(\.entry.id) == [Fx.id(0)])
    }

    @Test func aLiveMemberIsLeftAlone() {
        var node = Fx.instance(0, knowing: [1, 2])
        #expect(node.discovered(Fx.address(1), id: Fx.id(1), now: Fx.at(1)).streams.isEmpty)
        // Seen on another address (another interface, IPv6) too.
        #expect(node.discovered(PeerAddress(host: .ipv4(10, 9, 9, 9), port: 7946), id: Fx.id(1), now: Fx.at(1)).streams.isEmpty)
    }

    @Test func aDeadMemberSeenAgainIsJoined() {
        var node = Fx.instance(0, knowing: [1, 2], overrides: [Fx.member(Fx.signed(2), state: .dead, claim: 1)])
        #expect(node.discovered(Fx.address(2), id: Fx.id(2), now: Fx.at(1)).streams.count == 1)
    }

    @Test func ownRecordAndLeftNodeDoNothing() {
        var node = Fx.instance(0, knowing: [1])
        #expect(node.discovered(Fx.address(0), id: Fx.id(0), now: Fx.at(1)).streams.isEmpty)
        _ = node.leave(now: Fx.at(2))
        #expect(node.discovered(Fx.address(7), id: Fx.id(7), now: Fx.at(3)).streams.isEmpty)
    }

    @Test func probeSoonMakesTheMemberTheNextProbeTarget() {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4, 5, 6, 7, 8])
        // Whatever the round-robin order, the hinted member is probed at the next period.
        for target in [3, 7, 5] {
            _ = node.probeSoon(Fx.id(target), now: Fx.at(1))
            let pings = node.tick(.probe, at: Fx.at(2)).pings
            #expect(pings.first?.0.target == Fx.id(target))
        }
    }

    @Test func probeSoonIgnoresUnknownAndDeadMembers() {
        var node = Fx.instance(0, knowing: [1, 2], overrides: [Fx.member(Fx.signed(2), state: .dead, claim: 1)])
        _ = node.probeSoon(Fx.id(2), now: Fx.at(1))
        _ = node.probeSoon(Fx.id(9), now: Fx.at(1))
        #expect(node.tick(.probe, at: Fx.at(2)).pings.first?.0.target == Fx.id(1))
    }
}
