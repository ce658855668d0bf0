@testable import Gossip
import HearsayModel
import Testing

@Suite struct BroadcastQueueTests {
    static func suspect(_ i: Int, _ inc: UInt64 = 1) -> Update {
        Update(.suspect(id: Fx.id(i), incarnation: inc, from: Fx.id(0)))
    }

    @Test func newestFirst() {
        var q = BroadcastQueue(limit: 3)
        for i in 1...5 { q.enqueue(Self.suspect(i)) }
        #expect(q.count == 5)
        let got = q.take(budget: 1400)
        #expect(got.map(\.subject) == [5, 4, 3, 2, 1].map(Fx.id))
    }

    @Test func newerUpdateForASubjectReplacesTheQueuedOne() {
        var q = BroadcastQueue(limit: 3)
        q.enqueue(Self.suspect(1, 1))
        q.enqueue(Self.suspect(2, 1))
        q.enqueue(Update(.dead(id: Fx.id(1), incarnation: 1, from: Fx.id(0))))
        #expect(q.count == 2)
        let got = q.take(budget: 1400)
        #expect(got.count == 2)
        #expect(got[0].isDead(Fx.id(1)))  // the replacement is also the newest
        #expect(got[1].isSuspect(Fx.id(2)))
        #expect(!got.contains { $0.isSuspect(Fx.id(1)) })
        // The replacement's transmit count starts afresh.
        q.enqueue(Self.suspect(3))
        q.enqueue(Update(.entry(Fx.signed(3, inc: 2))))
        let again = q.take(budget: 1400)
        #expect(again.filter { $0.subject == Fx.id(3) }.count == 1)
        #expect(again.first?.isEntry(of: Fx.id(3)) == true)
    }

    @Test(arguments: [1, 2, 5])
    func eachUpdateIsTakenAtMostLimitTimes(limit: Int) {
        var q = BroadcastQueue(limit: limit)
        for i in 1...3 { q.enqueue(Self.suspect(i)) }
        var taken = [NodeID: Int]()
        for _ in 0..<(limit + 3) {
            for u in q.take(budget: 1400) { taken[u.subject, default: 0] += 1 }
        }
        #expect(taken == Dictionary(uniqueKeysWithValues: (1...3).map { (Fx.id($0), limit) }))
        #expect(q.isEmpty)
        #expect(q.take(budget: 1400).isEmpty)
    }

    @Test func zeroLimitQueuesNothing() {
        var q = BroadcastQueue(limit: 0)
        q.enqueue(Self.suspect(1))
        #expect(q.isEmpty)
        #expect(q.take(budget: 1400).isEmpty)
    }

    @Test func budgetIsRespected() {
        var q = BroadcastQueue(limit: 1)
        for i in 1...10 { q.enqueue(Self.suspect(i)) }
        let size = Self.suspect(1).encodedSize
        #expect(size == 99)  // kind, hops, subject, incarnation, claimant, signature
        var seen = [NodeID]()
        for budget in [100, 4 * size, 200, 1400] {
            let got = q.take(budget: budget)
            #expect(got.reduce(0) { $0 + $1.encodedSize } <= budget)
            #expect(!got.isEmpty)
            seen += got.map(\.subject)
        }
        #expect(seen == (1...10).reversed().map(Fx.id))  // newest first, none lost, none repeated
        #expect(q.isEmpty)
        // Too small for anything: nothing is taken and nothing is spent.
        q.enqueue(Self.suspect(1))
        #expect(q.take(budget: 34).isEmpty)
        #expect(q.count == 1)
        // A large entry that does not fit is skipped for smaller, older ones.
        q.enqueue(Update(.entry(Fx.signed(2))))
        let got = q.take(budget: 100)
        #expect(got.map(\.subject) == [Fx.id(1)])
        #expect(q.count == 1)
        // maxCount caps the number of updates.
        for i in 3...9 { q.enqueue(Self.suspect(i)) }
        #expect(q.take(budget: 1400, maxCount: 3).count == 3)
    }
}
