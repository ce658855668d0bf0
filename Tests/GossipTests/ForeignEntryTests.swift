@testable import Gossip
import HearsayModel
import Testing

/// Entries for users of other realms that a node observes (issue 6): published, updated and
/// retracted by their observer only, spread like any entry, never SWIM members.
@Suite struct ForeignEntryTests {
    static func carol(_ e: inout PresenceEntry) {
        e.handle = "Carol Jones"
        e.protocolName = "xmpp"
        e.addresses = [.ipv4(10, 0, 0, 9)]
        e.chatPort = 5298
        e.status = .away
        e.statusText = "lunch"
    }

    @Test func anObservedUserSpreadsAndIsNeverProbed() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let (fid, ds) = try node.publishForeign(name: "carol@laptop", realm: "xmpp-ll", now: Fx.at(1), Self.carol)
        #expect(fid == NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: Fx.id(0)))
        let row = try #require(node.table[fid])
        #expect(row.state == .alive)
        #expect(!row.isNode)
        #expect(row.entry.entry.handle == "Carol Jones")
        #expect(row.entry.entry.chatPort == 5298)
        #expect(row.entry.entry.gossipPort == 0)
        #expect(row.entry.owner == Fx.id(0))
        #expect(row.entry.version.incarnation == node.me.version.incarnation)
        #expect(row.entry.hasValidSignature)
        #expect(!node.table.order.contains(fid))
        #expect(node.ownForeign == [fid])
        #expect(ds.events.contains { $0.id == fid && $0.previous == nil && $0.state == .alive })
        let pushes = ds.pushes.filter { $0.0.contains { $0.isEntry(of: fid) } }
        #expect(!pushes.isEmpty)

        // Another node learns it, and never probes it.
        var other = Fx.instance(1, knowing: [0, 2, 3])
        _ = other.deliver(.push(updates: pushes[0].0), from: 0, at: Fx.at(1.001))
        #expect(other.table[fid]?.state == .alive)
        #expect(other.table[fid]?.entry.entry.statusText == "lunch")
        var rng = SeededRandom(seed: 3)
        for _ in 0..<20 { #expect(!other.table.randomLive(3, excluding: [], using: &rng).contains(fid)) }
        // A suspicion about it is ignored.
        _ = other.deliver(.push(updates: [Update(.suspect(id: fid, incarnation: 9, from: Fx.id(2)))]), from: 2)
        #expect(other.table[fid]?.state == .alive)
    }

    @Test func updatesOutrankAndARetractionLeavesATombstone() throws {
        var node = Fx.instance(0, knowing: [1, 2])
        var other = Fx.instance(1, knowing: [0, 2])
        let (fid, first) = try node.publishForeign(name: "carol@laptop", realm: "xmpp-ll", now: Fx.at(1), Self.carol)
        _ = other.deliver(.push(updates: first.pushes[0].0), from: 0, at: Fx.at(1))
        let (same, second) = try node.publishForeign(name: "carol@laptop", realm: "xmpp-ll", now: Fx.at(2)) { $0.status = .available }
        #expect(same == fid)
        #expect(node.table[fid]?.entry.version.sequence == 1)
        #expect(node.table[fid]?.entry.entry.handle == "Carol Jones")  // kept from the last observation
        _ = other.deliver(.push(updates: second.pushes[0].0), from: 0, at: Fx.at(2))
        #expect(other.table[fid]?.entry.entry.status == .available)
        // An older version arriving late changes nothing.
        _ = other.deliver(.push(updates: first.pushes[0].0), from: 0, at: Fx.at(3))
        #expect(other.table[fid]?.entry.entry.status == .available)

        let gone = node.retractForeign(fid, now: Fx.at(4))
        #expect(node.table[fid]?.state == .left)
        #expect(node.ownForeign.isEmpty)
        let tomb = try #require(gone.pushes.first { $0.0.contains { $0.isEntry(of: fid) } })
        let got = other.deliver(.push(updates: tomb.0), from: 0, at: Fx.at(4))
        #expect(other.table[fid]?.state == .left)
        #expect(got.events.contains { $0.id == fid && $0.previous == .alive && $0.state == .left })
        // Retracting twice, or someone else's entry, does nothing.
        #expect(node.retractForeign(fid, now: Fx.at(5)).isEmpty)
        var third = Fx.instance(2, knowing: [0, 1])
        _ = third.deliver(.push(updates: second.pushes[0].0), from: 0, at: Fx.at(2))
        #expect(third.retractForeign(fid, now: Fx.at(5)).isEmpty)
        #expect(third.table[fid]?.state == .alive)
    }

    @Test func anotherNodeCannotForgeAnObservation() throws {
        var node = Fx.instance(0, knowing: [1, 2])
        let (fid, ds) = try node.publishForeign(name: "carol@laptop", realm: "xmpp-ll", now: Fx.at(1), Self.carol)
        let signed = try #require(node.table[fid]?.entry)
        // Node 2 signs the same observation with its own key: that is another id, its own.
        var forged = signed.entry
        forged.publicKey = Fx.identity(2).publicKey
        let theirs = try SignedEntry.sign(forged, with: Fx.identity(2))
        #expect(theirs.id != fid)
        #expect(theirs.id == NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: Fx.id(2)))
        // A changed copy of node 0's signed entry (a higher version, node 0's key) fails the signature.
        // Payload: u8 format | u8 flags | 32 key | varint incarnation (1: one byte) | varint sequence | ...
        let tampered = try UpdateApplyTests.tampered(signed) { $0[UpdateApplyTests.sequenceOffset] = 5 }
        #expect(tampered.version.sequence == 5)
        var other = Fx.instance(1, knowing: [0, 2])
        _ = other.deliver(.push(updates: ds.pushes[0].0), from: 0)
        _ = other.deliver(.push(updates: [Update(.entry(tampered))]), from: 2)
        #expect(other.stats.rejectedForged == 1)
        #expect(other.table[fid]?.entry.version.sequence == 0)
    }

    @Test func afterARestartTheNewLifesEntriesOutrankTheOld() throws {
        var node = Fx.instance(0, knowing: [1])
        let (fid, old) = try node.publishForeign(name: "carol@laptop", realm: "xmpp-ll", now: Fx.at(1), Self.carol)
        for _ in 0..<3 { _ = try node.publishForeign(name: "carol@laptop", realm: "xmpp-ll", now: Fx.at(2), Self.carol) }
        // The same node, restarted with incarnation 2, knowing node 1 again.
        let me2 = Fx.signed(0, inc: 2)
        var t = Fx.table([1])
        t.put(Member(entry: me2, state: .alive, claimIncarnation: 0, updatedAt: .zero, hops: 0))
        var reborn = GossipInstance(config: Fx.config, identity: Fx.identity(0), signed: me2, table: t, seed: 1, verifier: Fx.verifier)
        let (same, fresh) = try reborn.publishForeign(name: "carol@laptop", realm: "xmpp-ll", now: Fx.at(1), Self.carol)
        #expect(same == fid)
        #expect(reborn.table[fid]?.entry.version == EntryVersion(incarnation: 2, sequence: 0))
        var other = Fx.instance(1, knowing: [0])
        _ = other.deliver(.push(updates: try #require(old.pushes.first).0), from: 0)
        _ = other.deliver(.push(updates: try #require(fresh.pushes.first).0), from: 0)
        #expect(other.table[fid]?.entry.version.incarnation == 2)
    }
}
