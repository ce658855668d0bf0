import Crypto

/// A symmetric key two members share, agreed from their X25519 keys (`NodeIdentity.pairKey`).
/// Every gossip datagram carries a tag under the key of its sender and its receiver: a host that
/// is not a member (holds no key in anyone's table) cannot make one that is accepted.
///
/// The tag is HMAC-SHA256 truncated to 16 bytes (128 bits), over the datagram's bytes before it.
public struct PairKey: Sendable {
    public static let tagSize = 16
    let key: SymmetricKey

    init(_ key: SymmetricKey) { self.key = key }

    /// A key from raw bytes: for the simulator and tests, which need no key agreement.
    public init(testingBytes: [UInt8]) { key = SymmetricKey(data: testingBytes) }

    public func tag(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key).prefix(Self.tagSize))
    }

    public func tag(_ bytes: [UInt8]) -> [UInt8] { tag(bytes[...]) }

    /// Constant-time comparison of `tag` with the tag of `bytes`.
    public func isValid(tag: ArraySlice<UInt8>, for bytes: ArraySlice<UInt8>) -> Bool {
        guard tag.count == Self.tagSize else { return false }
        let mine = self.tag(bytes)
        var diff: UInt8 = 0
        for (a, b) in zip(mine, tag) { diff |= a ^ b }
        return diff == 0
    }
}
