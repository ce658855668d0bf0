import Crypto
import HearsayModel
import Testing

@Suite struct NodeIDTests {
    @Test func bytesRoundTrip() throws {
        var rng = SeededRandom(seed: 16)
        for _ in 0..<200 {
            let bytes = Fixture.randomBytes(16, &rng)
            let id = try #require(NodeID(bytes: bytes))
            #expect(id.bytes == bytes)
            #expect(NodeID(hi: id.hi, lo: id.lo) == id)
        }
    }

    @Test func bytesAreBigEndianHiThenLo() throws {
        let id = try #require(NodeID(bytes: Array(1...16)))
        #expect(id.hi == 0x0102_0304_0506_0708)
        #expect(id.lo == 0x090a_0b0c_0d0e_0f10)
        #expect(NodeID(hi: 0x0102_0304_0506_0708, lo: 0x090a_0b0c_0d0e_0f10).bytes == Array(1...16))
    }

    @Test func bytesAcceptAnyCollection() throws {
        let backing: [UInt8] = Array(0..<40)
        let id = try #require(NodeID(bytes: backing[10..<26]))
        #expect(id.bytes == Array(10..<26))
    }

    @Test(arguments: [0, 1, 8, 15, 17, 32])
    func bytesRejectWrongLength(count: Int) {
        #expect(NodeID(bytes: [UInt8](repeating: 7, count: count)) == nil)
    }

    @Test func publicKeyIdIsTruncatedSHA256() {
        var rng = SeededRandom(seed: 256)
        for _ in 0..<50 {
            let key = Fixture.randomBytes(32, &rng)
            let digest = Array(SHA256.hash(data: key))
            #expect(NodeID(publicKey: key).bytes == Array(digest.prefix(16)))
        }
    }

    @Test func identityIdIsDerivedFromItsPublicKey() {
        for seed: UInt64 in [1, 2, 3, 99] {
            let identity = Fixture.identity(seed: seed)
            #expect(identity.id == NodeID(publicKey: identity.publicKey))
            #expect(identity.id.bytes == Array(Array(SHA256.hash(data: identity.publicKey)).prefix(16)))
        }
    }

    @Test func textForms() {
        let id = Fixture.alice.id
        #expect(id.base32.count == 26)
        #expect(id.base32 == Base32.encode(id.bytes))
        #expect(id.short == String(id.base32.prefix(10)))
        #expect(id.description == id.short)
        let groups = id.grouped.split(separator: "-", omittingEmptySubsequences: false)
        #expect(groups.map(\.count) == [5, 5, 5, 5, 5, 1])
        #expect(groups.joined() == id.base32)
    }

    @Test func groupedFormOfAKnownId() throws {
        let id = try #require(NodeID(bytes: [UInt8](repeating: 0, count: 16)))
        #expect(id.base32 == String(repeating: "a", count: 26))
        #expect(id.grouped == "aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-a")
        let ones = NodeID(hi: .max, lo: .max)
        #expect(ones.base32 == String(repeating: "7", count: 25) + "4")
    }

    @Test func parsesBase32AndGroupedForms() {
        var rng = SeededRandom(seed: 3)
        for _ in 0..<200 {
            let id = NodeID(hi: rng.next(), lo: rng.next())
            #expect(NodeID(id.base32) == id)
            #expect(NodeID(id.grouped) == id)
            #expect(NodeID(id.base32.uppercased()) == id)
            #expect(NodeID(id.grouped.uppercased()) == id)
        }
    }

    @Test func rejectsBadText() {
        let good = Fixture.alice.id.base32
        let bad = [
            "", "abc", String(good.dropLast()), good + "a", good + good,
            String(good.dropLast()) + "1", "0" + good.dropFirst(), String(good.dropLast()) + "=",
            String(good.dropLast()) + "é", " " + good.dropFirst(), good.replacingFirst("!"),
            Fixture.alice.id.short,
        ]
        for text in bad { #expect(NodeID(text) == nil, "\(text)") }
    }

    /// The 26th character carries 3 bits of the id and 2 bits of zero padding: only the
    /// canonical spelling parses, so an id has one text form.
    @Test func rejectsNonCanonicalLastCharacter() throws {
        let zero = String(repeating: "a", count: 25)
        #expect(NodeID(zero + "a") != nil)
        #expect(NodeID(zero + "e") == NodeID(hi: 0, lo: 1))
        for alias in ["b", "c", "d", "f"] { #expect(NodeID(zero + alias) == nil, "\(alias)") }
    }

    @Test func foreignIdsDifferByOwnerRealmAndName() {
        let owner = Fixture.alice.id
        let base = NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: owner)
        #expect(base == NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: owner))
        #expect(base != owner)
        #expect(base != NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: Fixture.bob.id))
        #expect(base != NodeID(foreignUser: "carol@laptop", realm: "bonjour", owner: owner))
        #expect(base != NodeID(foreignUser: "carol@desktop", realm: "xmpp-ll", owner: owner))
        // The realm's length is part of the material, so the realm/name boundary matters.
        #expect(
            NodeID(foreignUser: "bc", realm: "a", owner: owner) != NodeID(foreignUser: "c", realm: "ab", owner: owner))
    }

    @Test func foreignIdMatchesItsDocumentedDerivation() {
        let owner = Fixture.alice.id
        var material = Array("hearsay-foreign-v1".utf8) + owner.bytes
        material.append(7)
        material += Array("xmpp-ll".utf8) + Array("carol@laptop".utf8)
        let expected = Array(Array(SHA256.hash(data: material)).prefix(16))
        #expect(NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: owner).bytes == expected)
    }

    @Test func bucketIsTheFirstByte() throws {
        #expect(NodeID(hi: 0, lo: .max).bucket == 0)
        #expect(NodeID(hi: 0x00ff_ffff_ffff_ffff, lo: 0).bucket == 0)
        #expect(NodeID(hi: 0x0100_0000_0000_0000, lo: 0).bucket == 1)
        #expect(NodeID(hi: .max, lo: 0).bucket == 255)
        var rng = SeededRandom(seed: 9)
        var seen = Set<Int>()
        for _ in 0..<5_000 {
            let id = try #require(NodeID(bytes: Fixture.randomBytes(16, &rng)))
            #expect(id.bucket == Int(id.bytes[0]))
            #expect((0...255).contains(id.bucket))
            seen.insert(id.bucket)
        }
        #expect(seen.count == 256)
    }

    @Test func orderingFollowsTheBytes() {
        var rng = SeededRandom(seed: 5)
        let ids = (0..<300).map { _ in
            // Few distinct hi values so that ties on hi are common.
            NodeID(hi: UInt64(rng.below(4)) << 62, lo: rng.next())
        }
        for (a, b) in zip(ids, ids.dropFirst()) {
            #expect((a < b) == a.bytes.lexicographicallyPrecedes(b.bytes))
            #expect((a == b) == (a.bytes == b.bytes))
        }
        let sorted = ids.sorted()
        #expect(sorted.map(\.bytes) == ids.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) })
    }
}

extension String {
    fileprivate func replacingFirst(_ c: Character) -> String { String(c) + dropFirst() }
}
