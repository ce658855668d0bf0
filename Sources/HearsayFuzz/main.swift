import HearsayModel
#if canImport(Glibc)
import Glibc
#endif

// hearsay-fuzz [ITERATIONS] [SEED]: mutation-fuzzes the gossip, entry and native chat codecs (see CodecFuzzer),
// then the link-local XMPP stream parser (see XMLFuzzer).
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
// The XML stream parser and stanza writer of link-local XMPP (see XMLFuzzer): a tenth as many
// inputs, each parsed twice (whole and chunked).
var xmlFuzzer = XMLFuzzer(seed: seed)
do {
    try xmlFuzzer.run(iterations: iterations / 10)
    let refused = xmlFuzzer.refused.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
    print("\(iterations / 10) XML streams: \(xmlFuzzer.stanzas) stanzas written back identically; "
        + "refused: \(refused.joined(separator: ", "))")
} catch {
    let input = String(decoding: error.input, as: UTF8.self).debugDescription
    print("FINDING (XML): \(error.description)\ninput: \(input)")
    exit(1)
}
