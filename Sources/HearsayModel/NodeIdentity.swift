import Crypto

/// A node's Ed25519 identity key. Its id is derived from the public key.
public struct NodeIdentity: Sendable {
    let key: Curve25519.Signing.PrivateKey
    public let publicKey: [UInt8]
    public let id: NodeID
    /// The X25519 key this node agrees pair keys with (`PairKey`), derived from the Ed25519 seed
    /// so that `identity.key` stays the only secret on disk.
    let agreement: Curve25519.KeyAgreement.PrivateKey
    public let agreementPublicKey: [UInt8]

    public init(privateKeyBytes: [UInt8]) throws(EntryError) {
        guard let k = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes) else {
            throw EntryError("an Ed25519 private key has 32 bytes")
        }
        key = k
        publicKey = Array(k.publicKey.rawRepresentation)
        id = NodeID(publicKey: publicKey)
        let seed = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: privateKeyBytes), salt: Array("hearsay-x25519-v1".utf8),
            info: [UInt8](), outputByteCount: 32)
        agreement = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: seed.withUnsafeBytes { Array($0) })
        agreementPublicKey = Array(agreement.publicKey.rawRepresentation)
    }

    /// The key this node shares with the holder of `peerAgreementKey` (whose id is `peer`), or
    /// nil if that is not a valid X25519 key. One X25519 and one HKDF: callers cache it.
    public func pairKey(with peer: NodeID, agreementKey peerAgreementKey: [UInt8]) -> PairKey? {
        guard peer != id, let theirs = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: peerAgreementKey),
            let secret = try? agreement.sharedSecretFromKeyAgreement(with: theirs)
        else { return nil }
        let (lo, hi) = id < peer ? (id, peer) : (peer, id)
        var info = Array("hearsay-gossip-v2".utf8)
        var w = ByteWriter(capacity: 32)
        w.id(lo)
        w.id(hi)
        info += w.bytes
        return PairKey(secret.hkdfDerivedSymmetricKey(using: SHA256.self, salt: [UInt8](), sharedInfo: info, outputByteCount: 32))
    }

    /// A new key from the system's secure random source.
    public static func generate() -> NodeIdentity {
        try! NodeIdentity(privateKeyBytes: Array(Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    /// A key drawn from a seeded generator: for the simulator and tests only (reproducible runs).
    public static func deterministic(using rng: inout SeededRandom) -> NodeIdentity {
        var seed = [UInt8]()
        for _ in 0..<4 {
            let v = rng.next()
            for s in stride(from: 0, to: 64, by: 8) { seed.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
        }
        return try! NodeIdentity(privateKeyBytes: seed)
    }

    public var privateKeyBytes: [UInt8] { Array(key.rawRepresentation) }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        Array(try! key.signature(for: message))
    }
}
