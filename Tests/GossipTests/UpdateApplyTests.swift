@testable import Gossip
import HearsayModel
import Testing

/// Received updates: new entries are applied and eagerly forwarded; forged and stale ones are
/// refused; suspicions follow SWIM's precedence.
@Suite struct UpdateApplyTests {
    /// `e` on the wire with its payload changed by `tamper` and its signature kept, decoded again.
    static func tampered(_ e: SignedEntry, _ tamper: (inout [UInt8]) -> Void) throws -> SignedEntry {
        var payload = e.payload
        tamper(&payload)
        var w = ByteWriter()
        w.lengthPrefixed(payload)
        w.raw(e.signature)
        var r = ByteReader(w.bytes)
        let d = try SignedEntry.decode(from: &r)
        #expect(r.isAtEnd)
        return d
    }

    // Payload layout: u8 format | u8 flags | 32 key | 32 agreement key | varint incarnation |
    // varint sequence | ...
    static let keyRange = 2..<34
    static let sequenceOffset = 67

    @Test func newEntryIsAppliedAnnouncedAndEagerlyPushed() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3, 4, 5])
        let e6 = Fx.signed(6, status: .away)
        let ds = node.deliver(.push(updates: [Update(.entry(e6), hops: 2)]), from: 1, at: Fx.at(3))

        let row = try #require(node.table[Fx.id(6)])
        #expect(row.state == .alive)
        #expect(row.entry == e6)
        #expect(row.hops == 3)
        #expect(row.updatedAt == Fx.at(3))
        #expect(node.stats.applied == 1)
        #expect(node.table.liveCount == 7)

        let events = ds.events
        #expect(events.count == 1)
        #expect(events.first?.id == Fx.id(6))
        #expect(events.first?.previous == nil)
        #expect(events.first?.state == .alive)
        #expect(events.first?.hops == 3)
        #expect(events.first?.entry.entry.status == .away)

        let pushes = ds.pushes
        #expect(pushes.count == Fx.config.eagerFanout)
        #expect(Set(pushes.map(\.to)).count == pushes.count)
        #expect(!pushes.contains { $0.to == Fx.address(0) })
        for (updates, _) in pushes {
            #expect(updates.count == 1)
            #expect(updates.first?.entry == e6)
            #expect(updates.first?.hops == 3)
        }
        #expect(node.stats.eagerPackets == Fx.config.eagerFanout)
        // Lazy push and the gossip tick are armed for the rest.
        #expect(ds.scheduled(.lazyPush) != nil)
        #expect(ds.scheduled(.gossip) != nil)

        // The same update again is a duplicate: nothing happens.
        let again = node.deliver(.push(updates: [Update(.entry(e6), hops: 0)]), from: 2, at: Fx.at(3.1))
        #expect(again.sends.isEmpty && again.events.isEmpty)
        #expect(node.stats.stale == 1)
        #expect(node.stats.applied == 1)
    }

    @Test func eagerPushNeverExceedsTheLiveMembers() {
        var node = Fx.instance(0, knowing: [1])
        let ds = node.deliver(.push(updates: [Update(.entry(Fx.signed(2)))]), from: 1)
        // Only 1 and the new member 2 are live besides this node, and 1 sent the news.
        #expect(ds.pushes.count == 1)
        #expect(Set(ds.pushes.map(\.to)) == [Fx.address(2)])
    }

    func expectRefusedAsForged(_ forged: SignedEntry, by node: inout GossipInstance) {
        let before = (root: node.table.root, count: node.table.count, forged: node.stats.rejectedForged,
                      row: node.table[forged.id]?.entry)
        let ds = node.deliver(.push(updates: [Update(.entry(forged))]), from: 2, at: Fx.at(1))
        #expect(node.stats.rejectedForged == before.forged + 1)
        #expect(node.table.root == before.root)
        #expect(node.table.count == before.count)
        #expect(node.table[forged.id]?.entry == before.row)
        #expect(ds.sends.isEmpty)
        #expect(ds.events.isEmpty)
        #expect(ds.scheduled(.lazyPush) == nil)
        #expect(node.stats.applied == 0)
    }

    @Test func entryWithAlteredFieldsIsRejectedAsForged() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        // Node 1's genuine entry with its sequence raised from 0 to 5: the signature no longer matches.
        let forged = try Self.tampered(Fx.signed(1)) { p in
            #expect(p[Self.sequenceOffset] == 0)
            p[Self.sequenceOffset] = 5
        }
        #expect(forged.id == Fx.id(1))
        #expect(forged.version == EntryVersion(incarnation: 1, sequence: 5))
        #expect(!forged.hasValidSignature)
        expectRefusedAsForged(forged, by: &node)
        #expect(node.table[Fx.id(1)]?.entry.version == EntryVersion(incarnation: 1, sequence: 0))
    }

    @Test func entrySignedByAnotherKeyClaimingAMemberIsRejected() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        // Node 7 signs a newer-looking entry, then swaps node 1's key in: the id becomes node 1's.
        let forged = try Self.tampered(Fx.signed(7, seq: 9, status: .busy)) { p in
            p.replaceSubrange(Self.keyRange, with: Fx.identity(1).publicKey)
        }
        #expect(forged.id == Fx.id(1))
        #expect(!forged.hasValidSignature)
        expectRefusedAsForged(forged, by: &node)
        #expect(node.table[Fx.id(1)]?.entry.entry.status == .available)
    }

    @Test func forgedEntryOfAnUnknownNodeIsNotLearned() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let forged = try Self.tampered(Fx.signed(9)) { $0[Self.sequenceOffset] = 1 }
        expectRefusedAsForged(forged, by: &node)
        #expect(node.table[Fx.id(9)] == nil)
    }

    @Test func forgedClaimAboutThisNodeDoesNotTriggerARefutation() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let forged = try Self.tampered(Fx.signed(0)) { $0[Self.sequenceOffset] = 3 }
        let ds = node.deliver(.push(updates: [Update(.entry(forged))]), from: 2)
        #expect(node.me.version == EntryVersion(incarnation: 1, sequence: 0))
        #expect(node.stats.refutations == 0)
        #expect(ds.sends.isEmpty)
    }

    @Test func olderOrEqualEntriesAreStale() {
        let held = Fx.signed(1, seq: 3)
        var node = Fx.instance(0, knowing: [1, 2, 3], overrides: [Fx.member(held)])
        let root = node.table.root
        for (n, e) in [held, Fx.signed(1, seq: 3, text: "same version"), Fx.signed(1, seq: 2), Fx.signed(1)].enumerated() {
            let ds = node.deliver(.push(updates: [Update(.entry(e))]), from: 2)
            #expect(node.stats.stale == n + 1)
            #expect(ds.sends.isEmpty && ds.events.isEmpty)
        }
        #expect(node.table.root == root)
        #expect(node.table[Fx.id(1)]?.entry == held)
        #expect(node.stats.applied == 0)
    }

    @Test func newerEntryClearsASuspicion() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let id1 = Fx.id(1)
        let s = node.deliver(.push(updates: [Update(.suspect(id: id1, incarnation: 1, from: Fx.id(2)))]), from: 2)
        #expect(node.table[id1]?.state == .suspect)
        #expect(s.events.first?.state == .suspect)
        #expect(s.pushes.contains { $0.0.contains { $0.isSuspect(id1, incarnation: 1) } })
        let deadline = try #require(s.scheduled(.suspicion(id1)))

        // A newer sequence at the same incarnation does not outrank the suspicion (SWIM §4.2)...
        _ = node.deliver(.push(updates: [Update(.entry(Fx.signed(1, seq: 4)))]), from: 3)
        #expect(node.table[id1]?.state == .suspect)
        #expect(node.stats.stale == 1)

        // ...a higher incarnation does.
        let refuted = node.deliver(.push(updates: [Update(.entry(Fx.signed(1, inc: 2)))]), from: 1, at: Fx.at(1))
        #expect(node.table[id1]?.state == .alive)
        #expect(node.table[id1]?.entry.version.incarnation == 2)
        #expect(refuted.events.contains { $0.id == id1 && $0.previous == .suspect && $0.state == .alive })

        // The old suspicion timer no longer kills it.
        let late = node.tick(.suspicion(id1), at: deadline)
        #expect(node.table[id1]?.state == .alive)
        #expect(late.events.isEmpty)
        #expect(node.stats.deathsDeclared == 0)
    }

    @Test func suspicionsOfAnOlderIncarnationAreStale() {
        var node = Fx.instance(0, knowing: [2, 3], overrides: [Fx.member(Fx.signed(1, inc: 2))])
        let ds = node.deliver(.push(updates: [Update(.suspect(id: Fx.id(1), incarnation: 1, from: Fx.id(2)))]), from: 2)
        #expect(node.table[Fx.id(1)]?.state == .alive)
        #expect(node.stats.stale == 1)
        #expect(ds.sends.isEmpty)
        // Claims about members never heard of are not learned.
        _ = node.deliver(.push(updates: [Update(.dead(id: Fx.id(30), incarnation: 1, from: Fx.id(2)))]), from: 2)
        #expect(node.table[Fx.id(30)] == nil)
        #expect(node.stats.unknownSubject == 1)
    }

    @Test func deathIsOverturnedOnlyByAHigherIncarnation() {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let id1 = Fx.id(1)
        // One member's death claim is only a suspicion here; the suspicion held long enough, it is death.
        _ = node.deliver(.push(updates: [Update(.dead(id: id1, incarnation: 1, from: Fx.id(2)))]), from: 2)
        #expect(node.table[id1]?.state == .suspect)
        #expect(node.stats.deathsDowngraded == 1)
        _ = node.deliver(.push(updates: [Update(.dead(id: id1, incarnation: 1, from: Fx.id(3)))]), from: 3, at: Fx.at(5))
        #expect(node.table[id1]?.state == .dead)
        #expect(node.table.liveCount == 3)
        _ = node.deliver(.push(updates: [Update(.suspect(id: id1, incarnation: 1, from: Fx.id(3)))]), from: 3)
        _ = node.deliver(.push(updates: [Update(.entry(Fx.signed(1, seq: 7)))]), from: 3)
        #expect(node.table[id1]?.state == .dead)
        _ = node.deliver(.push(updates: [Update(.entry(Fx.signed(1, inc: 2)))]), from: 1)
        #expect(node.table[id1]?.state == .alive)
        #expect(node.table.liveCount == 4)
    }
}
