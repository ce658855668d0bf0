import Crypto

/// A node's Ed25519 identity key. Its id is derived from the public key.
public struct NodeIdentity: Sendable {
    let key: Curve25519.Signing.PrivateKey
    public let publicKey: [UInt8]
    public let id: NodeID

    public init(privateKeyBytes: [UInt8]) throws(EntryError) {
        guard let k = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes) else {
            throw EntryError("an Ed25519 private key has 32 bytes")
        }
        key = k
        publicKey = Array(k.publicKey.rawRepresentation)
        id = NodeID(publicKey: publicKey)
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
