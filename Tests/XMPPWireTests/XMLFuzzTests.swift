import Testing
import XMPPWire

@testable import HearsayFuzz

/// A bounded run of the XML stream fuzzer (longer runs: Tools/fuzz/run).
@Suite struct XMLFuzzTests {
    @Test("mutated streams keep the memory bound, parse the same in any chunking and write back identically",
          arguments: [UInt64(1), 2])
    func fuzz(seed: UInt64) throws {
        var f = XMLFuzzer(seed: seed)
        try f.run(iterations: 3_000)
        #expect(f.stanzas > 300)
        let reasons: [XMLStreamError.Reason] = [
            .malformed, .doctype, .restrictedXML, .tooDeep, .markupTooLarge, .stanzaTooLarge,
        ]
        for reason in reasons {
            #expect(f.refused[reason, default: 0] > 0, "\(reason) never exercised: \(f.refused), stanzas \(f.stanzas)")
        }
    }
}
