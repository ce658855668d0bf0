import Crypto
import HearsayModel
import Testing

@Suite struct NodeIdentityTests {
    @Test func deterministicSameSeedSameIdentity() {
        for seed: UInt64 in [0, 1, 42, .max] {
            var r1 = SeededRandom(seed: seed)
            var r2 = SeededRandom(seed: seed)
            let a = NodeIdentity.deterministic(using: &r1)
            let b = NodeIdentity.deterministic(using: &r2)
            #expect(a.id == b.id)
            #expect(a.publicKey == b.publicKey)
            #expect(a.privateKeyBytes == b.privateKeyBytes)
            #expect(r1.next() == r2.next())
        }
    }

    @Test func deterministicDifferentSeedsOrDrawsDiffer() {
        var ids = Set<NodeID>()
        for seed: UInt64 in 0..<50 {
            var rng = SeededRandom(seed: seed)
            ids.insert(NodeIdentity.deterministic(using: &rng).id)
            ids.insert(NodeIdentity.deterministic(using: &rng).id)
        }
        #expect(ids.count == 100)
    }

    @Test func keysAndIdAreConsistent() throws {
        let identity = Fixture.alice
        #expect(identity.publicKey.count == 32)
        #expect(identity.privateKeyBytes.count == 32)
        #expect(identity.id == NodeID(publicKey: identity.publicKey))
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: identity.privateKeyBytes)
        #expect(Array(key.publicKey.rawRepresentation) == identity.publicKey)
    }

    @Test func privateKeyBytesRoundTrip() throws {
        let a = Fixture.bob
        let b = try NodeIdentity(privateKeyBytes: a.privateKeyBytes)
        #expect(b.id == a.id)
        #expect(b.publicKey == a.publicKey)
    }

    @Test(arguments: [0, 1, 31, 33, 64])
    func rejectsPrivateKeysOfTheWrongSize(count: Int) {
        #expect(throws: EntryError.self) { try NodeIdentity(privateKeyBytes: [UInt8](repeating: 1, count: count)) }
    }

    @Test func signaturesVerifyWithThePublicKey() throws {
        let identity = Fixture.alice
        let message = Array("hello, hearsay".utf8)
        let signature = identity.sign(message)
        #expect(signature.count == 64)
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: identity.publicKey)
        #expect(key.isValidSignature(signature, for: message))
        #expect(!key.isValidSignature(signature, for: message + [0]))
        let other = try Curve25519.Signing.PublicKey(rawRepresentation: Fixture.bob.publicKey)
        #expect(!other.isValidSignature(signature, for: message))
    }

    @Test func generatedIdentitiesAreDistinct() {
        let ids = Set((0..<20).map { _ in NodeIdentity.generate().id })
        #expect(ids.count == 20)
    }
}
