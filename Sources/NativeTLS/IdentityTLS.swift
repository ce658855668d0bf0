import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HearsayModel
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// TLS 1.3 between nodes with no certificate authority: each node's certificate is self-signed
/// with its own Ed25519 identity key, so the certificate's key *is* the identity, and the node id
/// (SHA-256 prefix of that key) follows from it. The dialing side checks that the key it gets is
/// the one of the node it meant to reach; the listening side checks that the dialer's key belongs
/// to a node it knows (from the gossiped table). Any other key is refused.
public enum IdentityTLS {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// A certificate for `identity`: subject and issuer CN = the node id (base32), Ed25519,
    /// valid from an hour before `now` for ten years.
    public static func credentials(for identity: NodeIdentity, now: Date = Date()) throws -> (NIOSSLCertificate, NIOSSLPrivateKey) {
        let key = Certificate.PrivateKey(try Curve25519.Signing.PrivateKey(rawRepresentation: identity.privateKeyBytes))
        let name = try DistinguishedName { CommonName(identity.id.base32) }
        let cert = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now - 3600, notValidAfter: now + 10 * 365 * 86_400, issuer: name, subject: name,
            signatureAlgorithm: .ed25519, extensions: Certificate.Extensions {}, issuerPrivateKey: key)
        var der = DER.Serializer()
        try der.serialize(cert)
        let nioCert = try NIOSSLCertificate(bytes: der.serializedBytes, format: .der)
        let nioKey = try NIOSSLPrivateKey(bytes: Array(try key.serializeAsPEM().pemString.utf8), format: .pem)
        return (nioCert, nioKey)
    }

    /// The Ed25519 key a certificate carries, and the node id it stands for.
    public static func peer(of cert: NIOSSLCertificate) throws(Failure) -> (id: NodeID, publicKey: [UInt8]) {
        // SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): this 12-byte prefix, then the key.
        let prefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
        guard let spki = try? cert.extractPublicKey().toSPKIBytes(), spki.count == 44, Array(spki.prefix(12)) == prefix else {
            throw Failure(description: "the peer's certificate does not carry an Ed25519 key")
        }
        let key = Array(spki.suffix(32))
        return (NodeID(publicKey: key), key)
    }

    /// Decides whether a presented certificate is acceptable: `expected` for the dialing side
    /// (the node it meant to reach), and `known` for both (is this id a node we know, with this key).
    /// Reports the peer it accepted or the reason it refused through `outcome`.
    public static func verifier(
        expected: NodeID?, known: @escaping @Sendable (NodeID, [UInt8]) -> Bool,
        outcome: @escaping @Sendable (Result<NodeID, Failure>) -> Void
    ) -> NIOSSLCustomVerificationCallback {
        { certificates, promise in
            do throws(Failure) {
                guard let leaf = certificates.first else { throw Failure(description: "the peer presented no certificate") }
                let peer = try peer(of: leaf)
                if let expected, peer.id != expected {
                    throw Failure(description: "expected node \(expected.short), the peer's key is node \(peer.id.short)")
                }
                guard known(peer.id, peer.publicKey) else {
                    throw Failure(description: "node \(peer.id.short) is not in the table with this key")
                }
                outcome(.success(peer.id))
                promise.succeed(.certificateVerified)
            } catch {
                outcome(.failure(error))
                promise.succeed(.failed)
            }
        }
    }

    /// The listening side: TLS 1.3 only, asks for (and requires) the dialer's certificate.
    public static func serverContext(_ identity: NodeIdentity) throws -> NIOSSLContext {
        let (cert, key) = try credentials(for: identity)
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(cert)], privateKey: .privateKey(key))
        c.minimumTLSVersion = .tlsv13
        c.certificateVerification = .noHostnameVerification
        onlyEd25519(&c)
        return try NIOSSLContext(configuration: c)
    }

    /// Identity keys are Ed25519, which BoringSSL leaves out of its default verification
    /// preferences: both sides sign and accept Ed25519 only.
    static func onlyEd25519(_ c: inout TLSConfiguration) {
        c.signingSignatureAlgorithms = [.ed25519]
        c.verifySignatureAlgorithms = [.ed25519]
    }

    /// The dialing side: TLS 1.3 only, presents its own certificate.
    public static func clientContext(_ identity: NodeIdentity) throws -> NIOSSLContext {
        let (cert, key) = try credentials(for: identity)
        var c = TLSConfiguration.makeClientConfiguration()
        c.certificateChain = [.certificate(cert)]
        c.privateKey = .privateKey(key)
        c.minimumTLSVersion = .tlsv13
        c.certificateVerification = .noHostnameVerification
        onlyEd25519(&c)
        return try NIOSSLContext(configuration: c)
    }
}
