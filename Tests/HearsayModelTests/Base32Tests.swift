import HearsayModel
import Testing

@Suite struct Base32Tests {
    /// RFC 4648 §10, lowercased and without padding.
    static let plain = ["", "f", "fo", "foo", "foob", "fooba", "foobar"]
    static let encoded = ["", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb", "mzxw6ytboi"]

    @Test(arguments: zip(plain, encoded))
    func encodesRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base32.encode(Array(plain.utf8)) == encoded)
    }

    @Test(arguments: zip(plain, encoded))
    func decodesRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base32.decode(encoded) == Array(plain.utf8))
    }

    @Test func decodesUppercase() {
        #expect(Base32.decode("MZXW6YTBOI") == Array("foobar".utf8))
        #expect(Base32.decode("MzXw6YtBoI") == Array("foobar".utf8))
    }

    @Test func encodesWithTheLowercaseAlphabet() {
        let all = Base32.encode([UInt8](repeating: 0xff, count: 5) + [0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56, 0xd7, 0xc6, 0x75, 0xbe, 0x77, 0xdf])
        #expect(all == "77777777" + "abcdefghijklmnopqrstuvwxyz234567")
    }

    @Test func roundTripsRandomBytes() {
        var rng = SeededRandom(seed: 0xB32)
        for length in 0...80 {
            for _ in 0..<8 {
                let bytes = Fixture.randomBytes(length, &rng)
                let text = Base32.encode(bytes)
                #expect(text.utf8.count == (length * 8 + 4) / 5)
                #expect(text.allSatisfy { "abcdefghijklmnopqrstuvwxyz234567".contains($0) })
                #expect(Base32.decode(text) == bytes, "length \(length): \(text)")
                #expect(Base32.decode(text.uppercased()) == bytes)
            }
        }
    }

    @Test(arguments: ["0", "1", "8", "9", "=", " ", "-", "_", "my=", "my======", "mzx w6", "mzxw6!", "é", "mzxw6\n", "\u{0}"])
    func rejectsInvalidCharacters(text: String) {
        #expect(Base32.decode(text) == nil)
    }

    /// Unpadded base32 never has 1, 3 or 6 characters in its last 8-character group.
    @Test(arguments: ["m", "mzx", "mzxw6y", "mzxw6ytbo", "mzxw6ytboim"])
    func rejectsImpossibleLengths(text: String) {
        #expect(Base32.decode(text) == nil)
    }

    /// Only the canonical spelling decodes: the unused low bits of the last character are zero
    /// (RFC 4648 §3.5), so one byte string has exactly one text form.
    @Test func rejectsNonZeroPaddingBits() {
        #expect(Base32.decode("my") == Array("f".utf8))
        for alias in ["mz", "m2", "m7"] { #expect(Base32.decode(alias) == nil, "\(alias)") }
        #expect(Base32.decode("mzxr") == nil)
        #expect(Base32.decode("mzxw6ytboj") == nil)
    }

    @Test func everyDecodableTextIsCanonical() {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var rng = SeededRandom(seed: 77)
        var decoded = 0
        for _ in 0..<5_000 {
            let text = String((0..<rng.below(14)).map { _ in alphabet[rng.below(32)] })
            if let bytes = Base32.decode(text) {
                decoded += 1
                #expect(Base32.encode(bytes) == text)
            }
        }
        #expect(decoded > 500)
    }
}
