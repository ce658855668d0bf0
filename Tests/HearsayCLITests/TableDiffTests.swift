import Foundation
import Gossip
import HearsayModel
import HearsayNode
import Testing

@Suite struct TableDiffTests {
    static func record(_ seed: UInt64, inc: UInt64, seq: UInt64, state: MemberState = .alive, claim: UInt64 = 0) -> SyncRecord {
        var rng = SeededRandom(seed: seed)
        let id = NodeIdentity.deterministic(using: &rng)
        let e = try! SignedEntry.sign(PresenceEntry(
            publicKey: id.publicKey, handle: "n\(seed)", addresses: [.ipv4(127, 0, 0, 1)], gossipPort: 1, chatPort: 2,
            version: EntryVersion(incarnation: inc, sequence: seq)), with: id)
        var crng = SeededRandom(seed: 999)
        let claimant = NodeIdentity.deterministic(using: &crng)
        let kind: Claim.Kind = state == .dead ? .dead : .suspect
        let c = state == .alive || state == .left ? nil : Claim.make(kind, subject: e.id, incarnation: claim, by: claimant)
        return SyncRecord(entry: e, state: state, claim: c)
    }

    @Test("equal tables have no differences; each kind of difference names the newer side")
    func differences() {
        let a = Self.record(1, inc: 1, seq: 0)
        #expect(TableInspector.diff(local: [a], remote: [a]).isEmpty)

        let newer = Self.record(1, inc: 1, seq: 3)
        let suspected = Self.record(1, inc: 1, seq: 0, state: .suspect, claim: 1)
        let onlyHere = Self.record(2, inc: 1, seq: 0)
        let onlyThere = Self.record(3, inc: 1, seq: 0)
        let d = TableInspector.diff(local: [newer, onlyHere], remote: [a, onlyThere])
        #expect(d.count == 3)
        #expect(d.first { $0.id == a.entry.id }?.newer == .local)
        #expect(d.first { $0.id == onlyHere.entry.id }?.remote == nil)
        #expect(d.first { $0.id == onlyThere.entry.id }?.newer == .remote)
        // A suspicion outranks the entry it is about (SWIM precedence).
        #expect(TableInspector.diff(local: [a], remote: [suspected]).first?.newer == .remote)
    }

    @Test("hearsay table --diff against a node that never joined lists both sides' entries")
    func diffAgainstAStranger() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.startPair()
        try c.start(2, join: nil)  // a node of its own
        #expect(c.eventually(10, nodes: [2]) { $0.count == 1 })
        let same = try hearsay(["table", "--data", c.data(0), "--diff", c.address(1)])
        #expect(same.status == 0, "\(same.err)")
        #expect(same.out.contains("identical"))
        let r = try hearsay(["table", "--data", c.data(0), "--diff", c.address(2), "--json"])
        #expect(r.status == 0, "\(r.err)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
        #expect(rows.count == 3)
        #expect(rows.filter { ($0["newer"] as? String) == "local" }.count == 2)
        #expect(rows.filter { ($0["newer"] as? String) == "remote" }.count == 1)
        let bad = try hearsay(["table", "--data", c.data(0), "--diff", "127.0.0.250:1"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("cannot reach"))
    }
}
