import HearsayModel
import Testing

@Suite struct InstantTests {
    @Test func arithmeticAndOrdering() {
        let t = Instant(nanoseconds: 1_000)
        #expect(Instant.zero.nanoseconds == 0)
        #expect(t + .seconds(2) == Instant(nanoseconds: 2_000_001_000))
        #expect(t + .milliseconds(-1) == Instant(nanoseconds: -999_000))
        #expect((t + .milliseconds(250)) - t == .milliseconds(250))
        #expect(t - (t + .seconds(1)) == .seconds(-1))
        #expect(Instant.zero < t)
        #expect(!(t < t))
        #expect([t, .zero, Instant(nanoseconds: -5)].sorted() == [Instant(nanoseconds: -5), .zero, t])
    }

    @Test func secondsAndDescription() {
        let t = Instant(nanoseconds: 1_500_000_000)
        #expect(t.seconds == 1.5)
        #expect(t.description == "1.5s")
        #expect(Instant(nanoseconds: 1_234_567).description == "0.001234s")
        #expect(Instant.zero.description == "0.0s")
    }

    @Test func durationNanoseconds() {
        #expect(Duration.zero.nanoseconds == 0)
        #expect(Duration.seconds(2).nanoseconds == 2_000_000_000)
        #expect(Duration.milliseconds(1_500).nanoseconds == 1_500_000_000)
        #expect(Duration.milliseconds(-1_500).nanoseconds == -1_500_000_000)
        #expect(Duration.nanoseconds(-1).nanoseconds == -1)
        #expect(Duration.nanoseconds(Int64.max).nanoseconds == .max)
        #expect(Duration.nanoseconds(Int64.min).nanoseconds == .min)
        #expect(Duration.milliseconds(1_500).seconds == 1.5)
    }

    @Test func durationNanosecondsSaturates() {
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(Int64.min).nanoseconds == .min)
        // Whole seconds fit but the fraction pushes past Int64: still saturates, never wraps.
        #expect((Duration.seconds(9_223_372_036) + .nanoseconds(999_999_999)).nanoseconds == .max)
        #expect((Duration.seconds(-9_223_372_036) - .nanoseconds(999_999_999)).nanoseconds == .min)
        #expect((Duration.seconds(9_223_372_036) + .nanoseconds(854_775_807)).nanoseconds == .max)
    }

    @Test func durationScaling() {
        #expect(Duration.seconds(1) * 1.5 == .milliseconds(1_500))
        #expect(Duration.milliseconds(10) * 0 == .zero)
        #expect(Duration.nanoseconds(3) * 0.5 == .nanoseconds(2))  // rounds half away from zero
        #expect(Duration.seconds(2) * -0.25 == .milliseconds(-500))
    }
}
