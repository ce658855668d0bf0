#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
@testable import Gossip
import HearsayModel
import Testing

@Suite struct SuspicionTests {
    static let min = Duration.seconds(2)
    static let max = Duration.seconds(6)

    /// `s.confirm(id)`, outside the `#expect` macro (which cannot mutate its operands).
    func counted(_ s: inout Suspicion, _ id: NodeID) -> Bool { s.confirm(id) }

    func timeout(_ c: Int, k: Int = 3) -> Duration {
        Suspicion.timeout(confirmations: c, k: k, min: Self.min, max: Self.max)
    }

    @Test func timeoutShrinksFromMaxToMin() {
        #expect(timeout(0) == .seconds(6))
        #expect(timeout(3) == .seconds(2))
        // max - (max - min) · log(c + 1) / log(k + 1)
        #expect(abs(timeout(1).seconds - (6 - 4 * 0.5)) < 1e-6)
        #expect(abs(timeout(2).seconds - (6 - 4 * (log(3) / log(4)))) < 1e-6)
        for c in 0..<3 { #expect(timeout(c) > timeout(c + 1), "c = \(c)") }
        // Never below the minimum.
        #expect(timeout(10) == .seconds(2))
        #expect(timeout(0, k: 0) == .seconds(2))
    }

    @Test func confirmationsCountOncePerMemberAndStopAtK() {
        let start = Fx.at(100)
        var s = Suspicion(incarnation: 4, from: Fx.id(1), start: start, min: Self.min, max: Self.max, k: 3)
        #expect(s.deadline == start + .seconds(6))
        #expect(s.confirmations == 0)
        #expect(!counted(&s, Fx.id(1)))  // the first suspecter again
        #expect(s.deadline == start + .seconds(6))
        #expect(counted(&s, Fx.id(2)))
        #expect(s.confirmations == 1)
        #expect(s.deadline == start + timeout(1))
        #expect(!counted(&s, Fx.id(2)))
        #expect(s.confirmations == 1)
        #expect(counted(&s, Fx.id(3)))
        #expect(s.deadline == start + timeout(2))
        #expect(counted(&s, Fx.id(4)))
        #expect(s.deadline == start + .seconds(2))
        #expect(!counted(&s, Fx.id(5)))  // k reached
        #expect(s.confirmations == 3)
        #expect(s.deadline == start + .seconds(2))
    }

    @Test func withNoConfirmationsExpectedTheMinimumApplies() {
        var s = Suspicion(incarnation: 1, from: Fx.id(1), start: .zero, min: Self.min, max: Self.max, k: 0)
        #expect(s.deadline == Instant.zero + .seconds(2))
        #expect(!counted(&s, Fx.id(2)))
    }

    @Test func configScalesTimeoutsWithClusterSize() {
        let lan = GossipConfig.lan
        let small = lan.suspicionTimeouts(members: 30)
        #expect(small.min == lan.suspicionMinTimeout && small.max == lan.suspicionMaxTimeout)
        let big = lan.suspicionTimeouts(members: 1_000_000)  // log10 = 6: twice as long
        #expect(abs(big.min.seconds - 2 * lan.suspicionMinTimeout.seconds) < 1e-6)
        #expect(abs(big.max.seconds - 2 * lan.suspicionMaxTimeout.seconds) < 1e-6)
    }
}

