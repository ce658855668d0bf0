import Crypto

/// A member's signed statement that another member is suspect or dead (SWIM §4.2) at an
/// incarnation. Claims travel from node to node like entries, so they carry their claimant's
/// Ed25519 signature over
///
///     "hearsay-claim-v1" ‖ u8 kind ‖ id subject ‖ u64 incarnation ‖ id claimant
///
/// and a receiver believes one only if it knows the claimant's key (a member), the signature
/// verifies, and the incarnation is one the subject has published (no higher than the entry the
/// receiver holds): a claim nobody could have made against a real entry is never applied.
public struct Claim: Sendable, Hashable {
    public enum Kind: UInt8, Sendable {
        case suspect = 1
        case dead = 2
    }

    public static let domain = Array("hearsay-claim-v1".utf8)
    public static let signatureSize = 64

    public var kind: Kind
    public var subject: NodeID
    public var incarnation: UInt64
    public var claimant: NodeID
    public var signature: [UInt8]

    public init(kind: Kind, subject: NodeID, incarnation: UInt64, claimant: NodeID, signature: [UInt8]) {
        self.kind = kind
        self.subject = subject
        self.incarnation = incarnation
        self.claimant = claimant
        self.signature = signature
    }

    /// Makes and signs a claim by `identity`.
    public static func make(_ kind: Kind, subject: NodeID, incarnation: UInt64, by identity: NodeIdentity) -> Claim {
        var c = Claim(kind: kind, subject: subject, incarnation: incarnation, claimant: identity.id, signature: [])
        c.signature = identity.sign(c.signedBytes)
        return c
    }

    public var signedBytes: [UInt8] {
        var w = ByteWriter(capacity: 16 + 1 + 16 + 8 + 16)
        w.raw(Self.domain)
        w.u8(kind.rawValue)
        w.id(subject)
        w.u64(incarnation)
        w.id(claimant)
        return w.bytes
    }

    /// Whether the signature verifies under `claimantKey` (the claimant's Ed25519 public key,
    /// from its entry), which must be the key the claimant's id derives from.
    public func isAuthentic(claimantKey: [UInt8]) -> Bool {
        guard NodeID(publicKey: claimantKey) == claimant,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: claimantKey)
        else { return false }
        return key.isValidSignature(signature, for: signedBytes)
    }

    /// Bytes on the wire after the update header: subject, incarnation, claimant, signature.
    public var encodedSize: Int { 16 + ByteWriter.varintSize(incarnation) + 16 + Self.signatureSize }
}
