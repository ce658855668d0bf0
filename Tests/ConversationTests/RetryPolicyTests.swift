import Conversation
import Testing

@Suite struct RetryPolicyTests {
    @Test func backoffDoublesToItsCap() {
        let p = RetryPolicy(initialMillis: 1_000, maxMillis: 60_000)
        #expect((0..<9).map { p.delay(afterAttempts: $0) } == [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000])
        #expect(p.delay(afterAttempts: 10_000) == 60_000)
    }

    @Test func jitterAddsAtMostAQuarter() {
        let p = RetryPolicy()
        #expect(p.delay(afterAttempts: 2, jitter: 0.999) < 4_000 + 1_000)
        #expect(p.delay(afterAttempts: 2, jitter: 0.5) == 4_500)
    }

    @Test func dueItemsAndPeersThatCameBack() {
        struct Item: Equatable { let peer: String; let next: Int64 }
        let items = [Item(peer: "ann", next: 500), Item(peer: "ann", next: 9_000), Item(peer: "bob", next: 9_000)]
        let now = RetryPolicy.due(items, nowMillis: 1_000, peer: { $0.peer }, nextAttempt: { $0.next })
        #expect(now == [items[0]])
        let back = RetryPolicy.due(items, nowMillis: 1_000, cameBack: ["bob"], peer: { $0.peer }, nextAttempt: { $0.next })
        #expect(back == [items[0], items[2]])
    }
}
