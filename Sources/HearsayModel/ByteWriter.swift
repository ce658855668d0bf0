/// Appends the primitives of Hearsay's binary wire formats to a byte array:
/// fixed-width big-endian integers, LEB128 varints and length-prefixed byte strings.
/// Layouts are documented in Docs/protocols/gossip-wire.md.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    public mutating func u64(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// Unsigned LEB128.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func raw(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }

    /// A varint length then the bytes.
    public mutating func lengthPrefixed(_ b: [UInt8]) {
        varint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }

    public mutating func string(_ s: String) { lengthPrefixed(Array(s.utf8)) }

    public mutating func id(_ id: NodeID) {
        u64(id.hi)
        u64(id.lo)
    }

    /// Size in bytes of `v` as a varint.
    public static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var x = v >> 7
        while x != 0 { n += 1; x >>= 7 }
        return n
    }
}
