@testable import Gossip
import HearsayModel
import Testing

/// Push-pull anti-entropy, joins, and how remote rows are merged.
@Suite struct AntiEntropyTests {
    /// Delivers `first` to `b` as if from `a`, then carries every stream message the two answer
    /// with to the other, until they stop. Returns the names of the messages exchanged.
    @discardableResult
    static func exchange(_ a: inout GossipInstance, _ b: inout GossipInstance, first: GossipMessage, at t: Instant)
        -> [String]
    {
        let addrA = a.me.entry.gossipAddress!, addrB = b.me.entry.gossipAddress!
        var inFlight: [(toB: Bool, GossipMessage)] = [(true, first)]
        var names = [String]()
        while !inFlight.isEmpty && names.count < 20 {
            let (toB, m) = inFlight.removeFirst()
            names.append(m.name)
            let ds = toB ? b.deliverStream(m, from: addrA, at: t) : a.deliverStream(m, from: addrB, at: t)
            for s in ds.streams {
                #expect(s.to == (toB ? addrA : addrB))
                #expect(s.conversation == 1)
                inFlight.append((!toB, s.message))
            }
        }
        return names
    }

    static func request(from node: GossipInstance, kind: SyncRequest.Kind = .periodic) -> GossipMessage {
        .syncRequest(SyncRequest(kind: kind, from: node.id, root: node.table.root, count: UInt32(node.table.count),
                                 records: []))
    }

    @Test func divergedTablesConvergeAfterOnePushPull() throws {
        // Both know 0...5. A heard that 3 got busy and suspects 5; B missed both but knows 6,
        // which A never heard of.
        let busy3 = Fx.signed(3, seq: 1, status: .busy)
        var a = Fx.instance(0, knowing: [1, 2, 3, 4, 5], overrides: [
            Fx.member(busy3), Fx.member(Fx.signed(5), state: .suspect, claim: 1),
        ])
        var b = Fx.instance(1, knowing: [0, 2, 3, 4, 5, 6])
        #expect(a.table.root != b.table.root)

        let names = Self.exchange(&a, &b, first: Self.request(from: a), at: Fx.at(10))
        #expect(names == ["sync-request", "sync-buckets", "sync-digest", "sync-records", "sync-records"])

        #expect(a.table.root == b.table.root)
        #expect(a.table.buckets == b.table.buckets)
        #expect(a.table.count == 7 && b.table.count == 7)
        #expect(a.table[Fx.id(6)]?.state == .alive)
        #expect(b.table[Fx.id(3)]?.entry == busy3)
        #expect(b.table[Fx.id(5)]?.state == .suspect)
        #expect(b.table[Fx.id(5)]?.claimIncarnation == 1)

        // Now they are equal: the next exchange stops at the summary.
        let again = Self.exchange(&a, &b, first: Self.request(from: a), at: Fx.at(20))
        #expect(again == ["sync-request", "sync-equal"])
        #expect(b.stats.syncsEqual == 1)
    }

    @Test func equalTablesAnswerSyncEqual() throws {
        let a = Fx.instance(0, knowing: [1, 2, 3])
        var b = Fx.instance(1, knowing: [0, 2, 3])
        #expect(a.table.root == b.table.root)
        let ds = b.deliverStream(Self.request(from: a), from: Fx.address(0), conversation: 42)
        #expect(ds.streams.count == 1)
        if case .syncEqual? = ds.streams.first?.message {} else { Issue.record("expected sync-equal, got \(ds)") }
        #expect(ds.streams.first?.conversation == 42)
        #expect(ds.streams.first?.to == Fx.address(0))
        #expect(b.stats.syncsEqual == 1)
        // Same root but a different row count is not taken as equal.
        let odd = GossipMessage.syncRequest(SyncRequest(kind: .periodic, from: a.id, root: a.table.root, count: 9,
                                                        records: []))
        if case .syncBuckets? = b.deliverStream(odd, from: Fx.address(0)).streams.first?.message {} else {
            Issue.record("expected sync-buckets")
        }
        _ = a
    }

    @Test func pushPullTimerStartsAnExchangeWithALiveMember() throws {
        var a = Fx.instance(0, knowing: [1])
        let ds = a.tick(.pushPull, at: Fx.at(10))
        let s = try #require(ds.streams.first)
        #expect(s.to == Fx.address(1))
        #expect(s.conversation == 0)
        guard case .syncRequest(let r) = s.message else {
            Issue.record("expected a sync request")
            return
        }
        #expect(r.kind == .periodic && r.from == Fx.id(0) && r.root == a.table.root && r.count == 2)
        #expect(ds.scheduled(.pushPull) != nil)
        #expect(a.stats.syncsStarted == 1)
    }

    @Test func remoteDeadRowBecomesALocalSuspicion() throws {
        var node = Fx.instance(0, knowing: [1, 2, 3])
        let ds = node.deliverStream(.syncRecords(records: [
            SyncRecord(entry: Fx.signed(1), state: .dead, claimIncarnation: 1),
            SyncRecord(entry: Fx.signed(25), state: .dead, claimIncarnation: 1),  // never heard of
            SyncRecord(entry: Fx.signed(26, flags: .left), state: .left, claimIncarnation: 0),  // never heard of
        ], wants: []), from: Fx.address(2), at: Fx.at(5))
        let row = try #require(node.table[Fx.id(1)])
        #expect(row.state == .suspect)
        #expect(row.claimIncarnation == 1)
        #expect(ds.scheduled(.suspicion(Fx.id(1))) != nil)
        #expect(node.table[Fx.id(25)] == nil)
        #expect(node.table[Fx.id(26)] == nil)
        #expect(node.stats.unknownSubject == 2)
        // Node 1 can still refute: a higher incarnation brings it back.
        _ = node.deliver(.push(updates: [Update(.entry(Fx.signed(1, inc: 2)))]), from: 1, at: Fx.at(6))
        #expect(node.table[Fx.id(1)]?.state == .alive)
    }

    @Test func remoteDeadRowAboutThisNodeIsRefuted() {
        var node = Fx.instance(0, knowing: [1, 2])
        _ = node.deliverStream(.syncRecords(records: [
            SyncRecord(entry: Fx.signed(0), state: .dead, claimIncarnation: 1),
        ], wants: []), from: Fx.address(1))
        #expect(node.me.version.incarnation == 2)
        #expect(node.table[Fx.id(0)]?.state == .alive)
    }

    @Test func joinRequestIsAnsweredWithTheWholeTableAndSpreadsTheJoiner() throws {
        var seed = Fx.instance(0, knowing: [1, 2, 3])
        var joiner = try GossipInstance(config: Fx.config, identity: Fx.identity(9), entry: Fx.entry(9), seed: 3)
        #expect(!joiner.joined)
        let start = joiner.start(seeds: [Fx.address(0)], now: .zero)
        let join = try #require(start.streams.first { $0.to == Fx.address(0) })
        guard case .syncRequest(let r) = join.message else {
            Issue.record("expected a join request")
            return
        }
        #expect(r.kind == .join && r.records.count == 1 && r.records.first?.entry == joiner.me)
        #expect(start.scheduled(.joinRetry) != nil)

        let reply = seed.deliverStream(join.message, from: Fx.address(9), conversation: 5, at: Fx.at(0.01))
        #expect(seed.table[Fx.id(9)]?.state == .alive)
        // The seed spreads the newcomer to others at once.
        #expect(reply.pushes.contains { $0.0.contains { $0.isEntry(of: Fx.id(9)) } })
        let answer = try #require(reply.streams.first)
        #expect(answer.to == Fx.address(9) && answer.conversation == 5)

        let done = joiner.deliverStream(answer.message, from: Fx.address(0), conversation: 5, at: Fx.at(0.02))
        #expect(joiner.joined)
        #expect(joiner.table.root == seed.table.root)
        #expect(joiner.table.liveCount == 5)
        #expect(done.scheduled(.catchUp) != nil)
        // Old news from a join reply is not re-gossiped.
        #expect(done.pushes.isEmpty)
        // Joined: retries stop.
        #expect(joiner.tick(.joinRetry, at: Fx.at(1)).streams.isEmpty)
    }
}
