import Discovery
import Testing

/// The strings of a browsed TXT record into keys and values (what `AvahiTranslation.txt` runs on
/// Avahi's string list; fuzzed by the libFuzzer target `txt`).
@Suite struct TXTRecordTests {
    @Test func splitsAtTheFirstEquals() {
        let txt = TXTRecord.dictionary([Array("id=a=b".utf8), Array("flag".utf8), Array("=v".utf8), Array("e=".utf8)])
        #expect(txt == ["id": "a=b", "flag": "", "": "v", "e": ""])
    }

    @Test func laterStringsWinAndBadUTF8IsReplaced() {
        let txt = TXTRecord.dictionary([Array("k=1".utf8), Array("k=2".utf8), [0x6b, 0x3d, 0xff]])
        #expect(txt == ["k": "\u{FFFD}"])
        #expect(TXTRecord.dictionary([[UInt8]]()).isEmpty)
    }
}
