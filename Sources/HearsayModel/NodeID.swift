import Crypto

/// The unique id of a node, or of an entry a node publishes for a foreign-realm user.
///
/// 128 bits: the first 16 bytes of SHA-256 over the owner's Ed25519 public key (native entries),
/// or over the owner's key, realm and foreign name (foreign entries). It is never chosen by the
/// user and never taken from a DNS-SD instance name, which Avahi may rename.
/// Shown as 26 lowercase base32 characters in groups (`abcde-fghij-...`), short form: the first 10.
public struct NodeID: Hashable, Comparable, Sendable {
    public let hi: UInt64
    public let lo: UInt64

    /// The all-zero id: "nobody" (no key hashes to it in practice).
    public static let none = NodeID(hi: 0, lo: 0)

    public init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    /// Builds an id from 16 bytes (big-endian).
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        self.init(hi: h, lo: l)
    }

    /// The id of the node whose Ed25519 public key is `publicKey` (32 bytes).
    public init(publicKey: some Collection<UInt8>) {
        self.init(digestOf: Array(publicKey))
    }

    /// The id of a foreign-realm user observed by `owner` (XEP-0174 buddy, ...): bound to the
    /// observing node so that no other node can publish under it.
    public init(foreignUser name: String, realm: String, owner: NodeID) {
        var material = Array("hearsay-foreign-v1".utf8)
        material += owner.bytes
        material.append(UInt8(truncatingIfNeeded: realm.utf8.count))
        material += Array(realm.utf8)
        material += Array(name.utf8)
        self.init(digestOf: material)
    }

    private init(digestOf material: [UInt8]) {
        let digest = Array(SHA256.hash(data: material))
        self.init(bytes: digest[0..<16])!
    }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: hi >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: lo >> UInt64(shift))) }
        return out
    }

    /// 26 base32 characters, no grouping.
    public var base32: String { Base32.encode(bytes) }

    /// Grouped in fives so people can read it aloud: `abcde-fghij-klmno-pqrst-uvwxy-z`.
    public var grouped: String {
        let s = Array(base32)
        return stride(from: 0, to: s.count, by: 5).map { String(s[$0..<min($0 + 5, s.count)]) }
            .joined(separator: "-")
    }

    /// The first 10 characters: what tables show.
    public var short: String { String(base32.prefix(10)) }

    /// Parses the base32 form, with or without the dashes of `grouped`.
    public init?(_ text: String) {
        let clean = text.lowercased().filter { $0 != "-" }
        guard clean.count == 26, let bytes = Base32.decode(clean), bytes.count == 16 else { return nil }
        self.init(bytes: bytes)
    }

    /// The anti-entropy bucket (0...255) this id falls in: its first byte.
    public var bucket: Int { Int(hi >> 56) }

    public static func < (a: NodeID, b: NodeID) -> Bool { (a.hi, a.lo) < (b.hi, b.lo) }
}

extension NodeID: CustomStringConvertible {
    public var description: String { short }
}
