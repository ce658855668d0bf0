@testable import Gossip
import HearsayModel
import Testing

/// Plumtree's lazy push: IHAVE digests, GRAFT requests and the pushes that answer them.
@Suite struct LazyPushTests {
    static func digest(_ i: Int, inc: UInt64 = 1, seq: UInt64) -> Digest {
        Digest(id: Fx.id(i), precedence: .entry(EntryVersion(incarnation: inc, sequence: seq)))
    }

    @Test func ihaveFromAnUnprovenAnnouncerIsChallengedThenGrafted() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3], proven: false)
        let newer = Self.digest(1, seq: 5)
        let ds = node.deliver(.ihave(digests: [newer]), from: 2)
        #expect(ds.grafts.isEmpty)
        guard case .challenge(let nonce)? = ds.sends.first?.message else {
            Issue.record("no challenge: \(ds.sends.map(\.message.name))")
            return
        }
        // While the challenge is unanswered, the retry timer sends nothing more to that address.
        #expect(node.tick(.graft(Fx.id(1)), at: Fx.at(0.04)).sends.isEmpty)
        // The answer proves the address, and what waited on it is grafted at once.
        let retry = node.deliver(.response(seq: nonce), from: 2, at: Fx.at(0.05))
        #expect(retry.grafts.map(\.to) == [Fx.address(2)])
        #expect(retry.grafts.first?.0 == [newer])
    }

    @Test func ihaveOfSomethingNewerTriggersAGraftToTheAnnouncer() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        node.prove(Fx.address(2))  // announcers that have answered a probe
        node.prove(Fx.address(3))
        let newer = Self.digest(1, seq: 5)
        let unknown = Self.digest(9, seq: 0)
        let known = Self.digest(2, seq: 0)  // what we hold already
        let older = Self.digest(3, inc: 0, seq: 9)
        let rumour = Digest(id: Fx.id(10), precedence: .dead(1))  // a claim about a stranger
        let ds = node.deliver(.ihave(digests: [newer, unknown, known, older, rumour]), from: 2)
        let grafts = ds.grafts
        #expect(grafts.count == 1)
        #expect(grafts.first?.to == Fx.address(2))
        #expect(Set(grafts.first?.0 ?? []) == [newer, unknown])
        #expect(ds.scheduled(.graft(Fx.id(1))) == Fx.at(0) + Fx.config.graftTimeout)
        #expect(ds.scheduled(.graft(Fx.id(9))) != nil)
        #expect(node.stats.graftsSent == 1)

        // Announced again by someone else: no second request now, but that announcer is asked
        // if the first does not deliver in time.
        #expect(node.deliver(.ihave(digests: [newer]), from: 3, at: Fx.at(0.01)).grafts.isEmpty)
        let retry = node.tick(.graft(Fx.id(1)), at: Fx.at(0.04))
        #expect(retry.grafts.count == 1)
        #expect(retry.grafts.first?.to == Fx.address(3))
        #expect(retry.grafts.first?.0 == [newer])

        // Once the update arrives, the pending graft is dropped.
        _ = node.deliver(.push(updates: [Update(.entry(Fx.signed(1, seq: 5)))]), from: 3, at: Fx.at(0.05))
        #expect(node.tick(.graft(Fx.id(1)), at: Fx.at(0.08)).grafts.isEmpty)
        // With one announcer, the graft for 9 is retried there (the request or its answer may
        // have been lost), up to maxGraftAttempts requests in all; then anti-entropy repairs.
        var retries = 0
        for step in 1...10 {
            let out = node.tick(.graft(Fx.id(9)), at: Fx.at(0.04 * Double(step)))
            guard let g = out.grafts.first else { break }
            #expect(g.to == Fx.address(2))
            #expect(g.0 == [unknown])
            #expect(out.scheduled(.graft(Fx.id(9))) != nil)
            retries += 1
        }
        #expect(retries == GossipInstance.maxGraftAttempts - 1)
        #expect(node.grafts.isEmpty)
    }

    @Test func graftForAHeldRowIsAnsweredWithAPush() throws {
        let held = Fx.signed(1, seq: 5, status: .busy)
        var node = Fx.instance(0, knowing: [2, 3], overrides: [
            Fx.member(held),
            Fx.member(Fx.signed(4), state: .suspect, claim: 1),
        ])
        node.prove(Fx.address(2))  // it answered a probe: the answer is not capped at the graft's size
        let ds = node.deliver(.graft(digests: [
            Self.digest(1, seq: 5),
            Digest(id: Fx.id(4), precedence: .suspect(1)),
            Self.digest(0, seq: 0),  // this node's own entry
            Self.digest(2, seq: 3),  // newer than held: cannot help
            Self.digest(20, seq: 0),  // unknown
        ]), from: 2)
        let pushes = ds.pushes
        #expect(pushes.count == 1)
        #expect(pushes.first?.to == Fx.address(2))
        let updates = try #require(pushes.first?.0)
        #expect(updates.count == 3)
        #expect(updates.contains { $0.entry == held })
        #expect(updates.contains { $0.isSuspect(Fx.id(4), incarnation: 1) })
        #expect(updates.contains { $0.entry == node.me })
        #expect(!updates.contains { $0.subject == Fx.id(2) || $0.subject == Fx.id(20) })
    }

    @Test func graftRoundTripDeliversTheMissingUpdate() throws {
        // A learned a status change that B missed; A announces, B grafts, A pushes.
        var a = Fx.instance(0, knowing: [1, 2, 3], proven: false)
        var b = Fx.instance(1, knowing: [0, 2, 3], proven: false)
        let change = Fx.signed(2, seq: 1, status: .away)
        let ads = a.deliver(.push(updates: [Update(.entry(change))]), from: 2)
        let lazyAt = try #require(ads.scheduled(.lazyPush))
        let announce = a.tick(.lazyPush, at: lazyAt)
        // n = 4 live: the lazy fanout (2 + ⌈ln 4⌉) covers every other member.
        #expect(Set(announce.sent(\.asIHave).map(\.to)) == [Fx.address(1), Fx.address(2), Fx.address(3)])
        let ihave = try #require(announce.sent(\.asIHave).first { $0.to == Fx.address(1) }?.0)
        #expect(ihave.contains(Digest(id: Fx.id(2), precedence: .entry(change.version))))
        #expect(a.stats.lazyPackets >= 1)

        b.prove(Fx.address(0))  // B has probed A
        let graft = try #require(b.deliver(.ihave(digests: ihave), from: 0).grafts.first)
        #expect(graft.to == Fx.address(0))
        // B has not proven its address to A: A answers the graft with a challenge, which B
        // answers; then B's graft again (its timer) gets the push.
        let first = a.deliver(.graft(digests: graft.0), from: 1)
        #expect(first.pushes.isEmpty)
        let challenge = try #require(first.sends.first { if case .challenge = $0.message { true } else { false } })
        #expect(challenge.to == Fx.address(1))
        guard case .challenge(let nonce) = challenge.message else { return }
        let response = b.deliver(.challenge(seq: nonce), from: 0)
        #expect(response.sends.count == 1)
        _ = a.deliver(response.sends[0].message, from: 1)
        #expect(a.proven.contains(Fx.address(1)))
        let answer = try #require(a.deliver(.graft(digests: graft.0), from: 1).pushes.first)
        #expect(answer.to == Fx.address(1))
        _ = b.deliver(.push(updates: answer.0), from: 0)
        #expect(b.table[Fx.id(2)]?.entry == change)
        #expect(b.grafts.isEmpty)
    }
}
