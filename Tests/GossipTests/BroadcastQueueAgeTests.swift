import HearsayModel
import Testing

@testable import Gossip

@Suite struct BroadcastQueueAgeTests {
    @Test("updates older than maxAge are dropped unsent; younger ones are sent")
    func maxAge() {
        var q = BroadcastQueue(limit: 5, maxAge: .seconds(2))
        let old = Update(.suspect(id: NodeID(hi: 1, lo: 1), incarnation: 1, from: NodeID(hi: 9, lo: 9)))
        let young = Update(.suspect(id: NodeID(hi: 2, lo: 2), incarnation: 1, from: NodeID(hi: 9, lo: 9)))
        q.enqueue(old, now: .zero)
        q.enqueue(young, now: .zero + .seconds(2))
        let got = q.take(budget: 1400, now: .zero + .milliseconds(3500))
        #expect(got.map(\.subject) == [young.subject])
        #expect(q.count == 1)
        #expect(q.take(budget: 1400, now: .zero + .seconds(5)).isEmpty)
        #expect(q.isEmpty)
    }
}
