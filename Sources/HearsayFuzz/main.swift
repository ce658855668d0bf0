import HearsayModel
#if canImport(Glibc)
import Glibc
#endif

// hearsay-fuzz [ITERATIONS] [SEED]: mutation-fuzzes the gossip, entry and native chat codecs (see CodecFuzzer).
let args = CommandLine.arguments.dropFirst()
let iterations = args.first.flatMap { Int($0) } ?? 1_000_000
let seed = args.dropFirst().first.flatMap { UInt64($0) } ?? 1
var fuzzer = CodecFuzzer(seed: seed)
do {
    try fuzzer.run(iterations: iterations)
    let refused = fuzzer.refused.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
    print("\(iterations) inputs: \(fuzzer.accepted) decoded and re-encoded stably; refused: \(refused.joined(separator: ", "))")
} catch {
    print("FINDING: \(error.description)\ninput (hex): \(error.input.map { String($0, radix: 16) }.joined(separator: " "))")
    exit(1)
}
