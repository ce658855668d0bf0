import HearsayModel
import Testing

@Suite struct EntryVerifierTests {
    /// Valid, tampered and forged entries, with whether each is authentic.
    static func samples() throws -> [(SignedEntry, Bool)] {
        var out = [(SignedEntry, Bool)]()
        for e in [Fixture.entry(), Fixture.foreignEntry(), Fixture.entry(statusText: "brb", flags: .left)] {
            let s = try Fixture.signed(e)
            out.append((s, true))
            let bytes = Fixture.wire(s)
            // Tampered signature, and tampered payload (a status-text or address byte).
            for i in [bytes.count - 1, bytes.count - 64, bytes.count - 70] {
                var t = bytes
                t[i] ^= 0x04
                if let d = try? Fixture.decode(t) { out.append((d, false)) }
            }
        }
        out.append((try Fixture.decode(PayloadBuilder(publicKey: Fixture.bob.publicKey).wire(signedBy: Fixture.alice)), false))
        return out
    }

    @Test func memoizingAgreesWithEd25519() throws {
        let samples = try Self.samples()
        #expect(samples.count(where: { !$0.1 }) >= 7)
        let plain: any EntryVerifier = Ed25519Verifier()
        let memo: any EntryVerifier = MemoizingVerifier()
        for _ in 0..<3 {  // first answers are computed, later ones remembered
            for (entry, authentic) in samples {
                #expect(plain.isAuthentic(entry) == authentic, "\(entry)")
                #expect(memo.isAuthentic(entry) == authentic, "\(entry)")
            }
        }
    }

    @Test func memoDistinguishesSignaturesOfTheSamePayload() throws {
        let memo = MemoizingVerifier()
        let s = try Fixture.signed(Fixture.entry())
        var bytes = Fixture.wire(s)
        bytes[bytes.count - 1] ^= 1
        let tampered = try Fixture.decode(bytes)
        #expect(tampered.payload == s.payload)
        #expect(memo.isAuthentic(s))
        #expect(!memo.isAuthentic(tampered))
        #expect(memo.isAuthentic(s))
        // A fresh object with the same bytes gets the remembered answer, which is the right one.
        #expect(memo.isAuthentic(try Fixture.decode(Fixture.wire(s))))
        #expect(!memo.isAuthentic(try Fixture.decode(bytes)))
    }

    @Test func memoizingIsSafeToShareAcrossTasks() async throws {
        let samples = try Self.samples()
        let memo = MemoizingVerifier()
        let disagreements = await withTaskGroup(of: Int.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var bad = 0
                    for k in 0..<(samples.count * 4) {
                        let (entry, authentic) = samples[(k + t) % samples.count]
                        if memo.isAuthentic(entry) != authentic { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(disagreements == 0)
    }
}
