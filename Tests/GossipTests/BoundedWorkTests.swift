@testable import Gossip
import HearsayModel
import Testing

/// Work a peer can make this node do is bounded (issue 11, points 4 and 5): a frame of
/// forgeries stops being read early, and one member's foreign entries are capped.
@Suite struct BoundedWorkTests {
    @Test("an anti-entropy frame of forged entries is dropped after a few signature checks")
    func forgedFrame() throws {
        var node = Fx.instance(0, knowing: [1, 2])
        // Entries of 100 strangers, each with node 3's signature: every one is a forgery.
        let good = Fx.signed(3)
        let forged = try (10..<60).map { i in
            try UpdateApplyTests.tampered(Fx.signed(i)) { $0[UpdateApplyTests.sequenceOffset] = 1 }
        }
        #expect(forged.allSatisfy { !$0.hasValidSignature })
        _ = node.deliverStream(.syncRecords(records: forged.map { SyncRecord(entry: $0, state: .alive) } + [SyncRecord(entry: good, state: .alive)],
                                            wants: []), from: Fx.address(1))
        #expect(node.stats.rejectedForged == GossipInstance.maxForgedPerFrame)
        #expect(node.stats.framesAbandoned == 1)
        #expect(node.table[good.id] == nil)  // what came after the forgeries was not read
        // Positive control: the same valid entries in a frame of their own are all applied.
        let valid = (10..<60).map { Fx.signed($0) }
        _ = node.deliverStream(.syncRecords(records: valid.map { SyncRecord(entry: $0, state: .alive) }, wants: []),
                               from: Fx.address(1))
        #expect(valid.allSatisfy { node.table[$0.id] != nil })
    }

    @Test("one member's foreign entries are capped; another member's still get in")
    func foreignCap() {
        var node = Fx.instance(0, knowing: [1, 2])
        let cap = GossipInstance.maxForeignPerOwner
        let many = (0..<(cap + 10)).map { Fx.foreign(1, name: "user\($0)@host") }
        _ = node.deliverStream(.syncRecords(records: many.map { SyncRecord(entry: $0, state: .alive) }, wants: []),
                               from: Fx.address(1))
        #expect(node.stats.foreignOverLimit == 10)
        #expect(node.table.count == 3 + cap)
        // Updates to the ones held still apply, and another observer is not affected.
        _ = node.deliver(.push(updates: [Update(.entry(Fx.foreign(1, name: "user0@host", seq: 1)))]), from: 1)
        #expect(node.table[many[0].id]?.entry.version.sequence == 1)
        _ = node.deliver(.push(updates: [Update(.entry(Fx.foreign(2, name: "carol@laptop")))]), from: 2)
        #expect(node.table[Fx.foreign(2, name: "carol@laptop").id] != nil)
    }
}
