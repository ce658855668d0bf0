@testable import HearsayFuzz
import XMPPWire

/// libFuzzer target `xmpp`: the bytes a link-local XMPP peer sends, through `XMLStreamParser` (over
/// Expat) and the `StreamMachine` of a receiving stream. The parser's properties are those of the
/// mutation fuzzer (`XMLFuzzer.check`, Sources/HearsayFuzz/XMLFuzzer.swift), seeded from a hash of
/// the input so that a run reproduces: the memory bound (limits plus one slice), the same events
/// fed whole and in random small chunks, and every stanza and chat message written back and
/// parsed again unchanged. The stream machine must not trap, and once it has asked to close the
/// transport it asks for nothing more.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXMPP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    var f = XMLFuzzer(seed: fnv1a(input))
    do {
        try f.check(input)
    } catch {
        finding(error.description, input)
    }
    let candidates: [String]? = fnv1a(input) % 2 == 0 ? nil : ["bob@pc"]
    let machine = StreamMachine(localNames: ["ann@host", "ann@other"], role: .receiver(candidates: candidates), nowMillis: 0)
    var closed = false
    var at = 0, now: Int64 = 0
    let step = 1 + Int(fnv1a(input) % 509)
    while at < input.count {
        let end = min(input.count, at + step)
        now += 10
        let out = machine.received(input[at..<end], nowMillis: now)
        expect(!closed || out.isEmpty, "directives after closeTransport: \(out)", input)
        if out.contains(where: { if case .closeTransport = $0 { true } else { false } }) { closed = true }
        at = end
    }
    return 0
}
