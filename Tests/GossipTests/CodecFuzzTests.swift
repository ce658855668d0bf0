import Testing

@testable import HearsayFuzz

/// A bounded run of the codec mutation fuzzer (longer runs: Tools/fuzz/run).
@Suite struct CodecFuzzTests {
    @Test("mutated encodings are refused with WireError or decode stably", arguments: [UInt64(1), 2])
    func fuzz(seed: UInt64) throws {
        var f = CodecFuzzer(seed: seed)
        try f.run(iterations: 30_000)
        #expect(f.accepted > 0)
        #expect(f.refused.values.reduce(0, +) > 10_000)
        #expect(f.refused.count >= 4, "every kind of refusal should be exercised: \(f.refused)")
    }
}
