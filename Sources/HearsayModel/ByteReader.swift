/// Reads what `ByteWriter` writes, never trusting a length: every read is bounds-checked and
/// throws `WireError` on truncated, oversized or malformed input.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    private mutating func need(_ n: Int, _ what: StaticString) throws(WireError) {
        if n < 0 || n > remaining { throw WireError(.truncated, "\(what): need \(n) bytes, have \(remaining)") }
    }

    public mutating func u8(_ what: StaticString = "byte") throws(WireError) -> UInt8 {
        try need(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16(_ what: StaticString = "u16") throws(WireError) -> UInt16 {
        try need(2, what)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    public mutating func u64(_ what: StaticString = "u64") throws(WireError) -> UInt64 {
        try need(8, what)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }

    public mutating func varint(_ what: StaticString = "varint") throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8(what)
            if shift == 63 && b > 1 { throw WireError(.malformed, "\(what): varint overflows 64 bits") }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw WireError(.malformed, "\(what): varint longer than 10 bytes") }
        }
    }

    /// A varint that must not exceed `max` (counts, lengths).
    public mutating func count(max: Int, _ what: StaticString) throws(WireError) -> Int {
        let v = try varint(what)
        if v > UInt64(max) { throw WireError(.oversized, "\(what): \(v) exceeds the limit of \(max)") }
        return Int(v)
    }

    public mutating func raw(_ n: Int, _ what: StaticString = "bytes") throws(WireError) -> [UInt8] {
        try need(n, what)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    public mutating func lengthPrefixed(max: Int, _ what: StaticString) throws(WireError) -> [UInt8] {
        let n = try count(max: max, what)
        return try raw(n, what)
    }

    /// A length-prefixed UTF-8 string of at most `max` bytes; invalid UTF-8 is malformed.
    public mutating func string(max: Int, _ what: StaticString) throws(WireError) -> String {
        let b = try lengthPrefixed(max: max, what)
        guard let s = String(validating: b, as: UTF8.self) else { throw WireError(.malformed, "\(what): not UTF-8") }
        return s
    }

    public mutating func id(_ what: StaticString = "id") throws(WireError) -> NodeID {
        let h = try u64(what)
        let l = try u64(what)
        return NodeID(hi: h, lo: l)
    }

    public mutating func skip(_ n: Int) throws(WireError) {
        try need(n, "skip")
        offset += n
    }
}
