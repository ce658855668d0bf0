import HearsayModel
import Testing

@Suite struct ByteWriterTests {
    @Test func fixedWidthIntegersAreBigEndian() {
        var w = ByteWriter()
        w.u8(0xab)
        w.u16(0x1234)
        w.u64(0x0102_0304_0506_0708)
        #expect(w.bytes == [0xab, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8])
        #expect(w.count == 11)
    }

    @Test func varintKnownEncodings() {
        let cases: [(UInt64, [UInt8])] = [
            (0, [0x00]), (1, [0x01]), (127, [0x7f]), (128, [0x80, 0x01]), (300, [0xac, 0x02]),
            (16_383, [0xff, 0x7f]), (16_384, [0x80, 0x80, 0x01]),
            (UInt64(UInt32.max), [0xff, 0xff, 0xff, 0xff, 0x0f]),
            (1 << 63, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            (.max, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ]
        for (value, expected) in cases {
            var w = ByteWriter()
            w.varint(value)
            #expect(w.bytes == expected, "\(value)")
        }
    }

    @Test func lengthPrefixedAndStrings() {
        var w = ByteWriter()
        w.lengthPrefixed([9, 8, 7])
        w.string("hé")
        w.lengthPrefixed([UInt8](repeating: 1, count: 200))
        #expect(Array(w.bytes.prefix(8)) == [3, 9, 8, 7, 3, 0x68, 0xc3, 0xa9])
        #expect(Array(w.bytes[8..<10]) == [0xc8, 0x01])
        #expect(w.count == 10 + 200)
    }

    @Test func idIsHiThenLo() {
        var w = ByteWriter()
        w.id(NodeID(hi: 1, lo: 2))
        #expect(w.bytes == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2])
    }
}

@Suite struct VarintTests {
    static let edgeValues: [UInt64] = [
        0, 1, 127, 128, 255, 256, 300, 16_383, 16_384, 2_097_151, 2_097_152, UInt64(UInt32.max),
        UInt64(UInt32.max) + 1, (1 << 56) - 1, 1 << 56, (1 << 63) - 1, 1 << 63, .max - 1, .max,
    ]

    @Test(arguments: edgeValues)
    func roundTripsAndSizeMatches(value: UInt64) throws {
        var w = ByteWriter()
        w.varint(value)
        #expect(w.count == ByteWriter.varintSize(value))
        var r = ByteReader(w.bytes)
        #expect(try r.varint() == value)
        #expect(r.isAtEnd)
    }

    @Test func roundTripsRandomValues() throws {
        var rng = SeededRandom(seed: 128)
        var w = ByteWriter()
        var values = [UInt64]()
        for _ in 0..<2_000 {
            // Spread over all magnitudes.
            let v = rng.next() >> UInt64(rng.below(64))
            values.append(v)
            let before = w.count
            w.varint(v)
            #expect(w.count - before == ByteWriter.varintSize(v))
        }
        var r = ByteReader(w.bytes)
        for v in values { #expect(try r.varint() == v) }
        #expect(r.isAtEnd)
    }

    @Test func varintSizeBoundaries() {
        #expect(ByteWriter.varintSize(0) == 1)
        for k in 1...9 {
            let boundary = UInt64(1) << UInt64(7 * k)
            #expect(ByteWriter.varintSize(boundary - 1) == k)
            #expect(ByteWriter.varintSize(boundary) == k + 1)
        }
        #expect(ByteWriter.varintSize(.max) == 10)
    }

    @Test func elevenByteVarintIsMalformed() {
        let overlong = [UInt8](repeating: 0x80, count: 10) + [0x00]
        #expect(wireError { var r = ByteReader(overlong); return try r.varint() }?.reason == .malformed)
        let overlongOnes = [UInt8](repeating: 0xff, count: 10) + [0x01]
        #expect(wireError { var r = ByteReader(overlongOnes); return try r.varint() }?.reason == .malformed)
    }

    @Test func tenthByteBeyond64BitsIsMalformed() {
        for last: UInt8 in [0x02, 0x03, 0x7f] {
            let bytes = [UInt8](repeating: 0xff, count: 9) + [last]
            #expect(wireError { var r = ByteReader(bytes); return try r.varint() }?.reason == .malformed, "\(last)")
        }
    }
}

@Suite struct ByteReaderTests {
    /// Every strict prefix of `full` makes `read` throw `.truncated`; `full` itself reads.
    private func expectTruncation(
        _ full: [UInt8], sourceLocation: SourceLocation = #_sourceLocation,
        _ read: (inout ByteReader) throws -> Void
    ) {
        var whole = ByteReader(full)
        #expect(wireError { try read(&whole) } == nil, sourceLocation: sourceLocation)
        #expect(whole.isAtEnd, sourceLocation: sourceLocation)
        for n in 0..<full.count {
            var r = ByteReader(Array(full.prefix(n)))
            let error = wireError { try read(&r) }
            #expect(error?.reason == .truncated, "prefix of \(n) bytes", sourceLocation: sourceLocation)
        }
    }

    @Test func everyReadThrowsTruncatedOnShortInput() {
        expectTruncation([7]) { r in _ = try r.u8() }
        expectTruncation([1, 2]) { r in _ = try r.u16() }
        expectTruncation(Array(1...8)) { r in _ = try r.u64() }
        expectTruncation([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) { r in
            _ = try r.varint()
        }
        expectTruncation([0x80, 0x01]) { r in _ = try r.count(max: 1_000, "count") }
        expectTruncation(Array(1...5)) { r in _ = try r.raw(5) }
        expectTruncation([4, 1, 2, 3, 4]) { r in _ = try r.lengthPrefixed(max: 10, "blob") }
        expectTruncation([0x80, 0x01] + [UInt8](repeating: 0x61, count: 128)) { r in
            _ = try r.lengthPrefixed(max: 200, "blob")
        }
        expectTruncation([3, 0x68, 0xc3, 0xa9]) { r in _ = try r.string(max: 10, "text") }
        expectTruncation(Array(1...16)) { r in _ = try r.id() }
        expectTruncation(Array(1...6)) { r in try r.skip(6) }
    }

    @Test func readsWhatTheWriterWrites() throws {
        var w = ByteWriter()
        w.u8(0xfe)
        w.u16(0xbeef)
        w.u64(0xdead_beef_cafe_f00d)
        w.varint(1_000_000)
        w.lengthPrefixed([1, 2, 3])
        w.string("grüße")
        w.id(NodeID(hi: 42, lo: 43))
        w.raw([9, 9])
        var r = ByteReader(w.bytes)
        #expect(try r.u8() == 0xfe)
        #expect(try r.u16() == 0xbeef)
        #expect(try r.u64() == 0xdead_beef_cafe_f00d)
        #expect(try r.varint() == 1_000_000)
        #expect(try r.lengthPrefixed(max: 3, "blob") == [1, 2, 3])
        #expect(try r.string(max: 7, "text") == "grüße")
        #expect(try r.id() == NodeID(hi: 42, lo: 43))
        #expect(r.remaining == 2)
        try r.skip(1)
        #expect(try r.raw(1) == [9])
        #expect(r.isAtEnd)
        #expect(r.remaining == 0)
        #expect(wireError { try r.u8() }?.reason == .truncated)
    }

    @Test func respectsOffsetAndEnd() throws {
        var r = ByteReader([0, 1, 2, 3, 4, 5], offset: 2, end: 4)
        #expect(r.remaining == 2)
        #expect(try r.u16() == 0x0203)
        #expect(r.isAtEnd)
        #expect(r.offset == 4)
        #expect(wireError { try r.u8() }?.reason == .truncated)
    }

    @Test func countAboveMaxIsOversized() throws {
        var w = ByteWriter()
        w.varint(11)
        #expect(wireError { var r = ByteReader(w.bytes); return try r.count(max: 10, "count") }?.reason == .oversized)
        var ok = ByteReader(w.bytes)
        #expect(try ok.count(max: 11, "count") == 11)
        var huge = ByteWriter()
        huge.varint(.max)
        #expect(wireError { var r = ByteReader(huge.bytes); return try r.count(max: .max, "count") }?.reason == .oversized)
    }

    @Test func lengthPrefixedAndStringAboveMaxAreOversized() {
        var w = ByteWriter()
        w.string("hello")
        #expect(wireError { var r = ByteReader(w.bytes); return try r.lengthPrefixed(max: 4, "blob") }?.reason == .oversized)
        #expect(wireError { var r = ByteReader(w.bytes); return try r.string(max: 4, "text") }?.reason == .oversized)
        #expect(wireError { var r = ByteReader(w.bytes); return try r.string(max: 5, "text") } == nil)
    }

    @Test func oversizedLengthIsReportedBeforeTruncation() {
        // Claims 1,000,000 bytes but carries none: the limit is checked first.
        var w = ByteWriter()
        w.varint(1_000_000)
        #expect(wireError { var r = ByteReader(w.bytes); return try r.lengthPrefixed(max: 400, "blob") }?.reason == .oversized)
    }

    @Test(arguments: [[0x02, 0xc3, 0x28], [0x01, 0xff], [0x01, 0x80], [0x03, 0xed, 0xa0, 0x80], [0x02, 0xc0, 0xaf]] as [[UInt8]])
    func invalidUTF8IsMalformed(bytes: [UInt8]) {
        #expect(wireError { var r = ByteReader(bytes); return try r.string(max: 10, "text") }?.reason == .malformed)
    }

    @Test func negativeLengthsAreRefused() {
        #expect(wireError { var r = ByteReader([1, 2, 3]); return try r.raw(-1) }?.reason == .truncated)
        #expect(wireError { var r = ByteReader([1, 2, 3]); try r.skip(-1) }?.reason == .truncated)
    }
}

@Suite struct WireErrorTests {
    @Test func descriptionNamesTheReason() {
        #expect(WireError(.badVersion, "entry format 2").description == "bad-version: entry format 2")
        #expect(WireError(.truncated, "x").description == "truncated: x")
        #expect(WireError.Reason.allCases.map(\.rawValue) == [
            "truncated", "oversized", "bad-version", "unknown-type", "malformed", "bad-signature",
        ])
    }
}
