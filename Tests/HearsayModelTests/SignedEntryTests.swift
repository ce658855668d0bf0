import Crypto
import HearsayModel
import Testing

@Suite struct SignedEntryTests {
    static let flagSets: [PresenceEntry.Flags] = [[], .left, .retracted, [.left, .retracted]]

    // MARK: Round trips

    @Test(arguments: [false, true], PresenceStatus.allCases)
    func signEncodeDecodeKeepsEveryField(foreign: Bool, status: PresenceStatus) throws {
        let base = foreign ? Fixture.foreignEntry() : Fixture.entry()
        for flags in Self.flagSets {
            var e = base
            e.status = status
            e.flags = flags
            e.statusText = "feeling \(status) ✓"
            e.capabilities = [.chat, .relay, Capabilities(rawValue: 1 << 31)]
            e.version = EntryVersion(incarnation: .max, sequence: 1 << 40)
            let signed = try Fixture.signed(e)
            #expect(signed.hasValidSignature)
            #expect(signed.entry == e)

            let bytes = Fixture.wire(signed)
            #expect(bytes.count == signed.encodedSize)
            #expect(signed.encodedSize <= PresenceEntry.Limits.encodedSize)

            let d = try Fixture.decode(bytes)
            #expect(d.entry == e, "\(flags)")
            #expect(d.entry.publicKey == e.publicKey)
            #expect(d.entry.foreignName == e.foreignName)
            #expect(d.entry.handle == e.handle)
            #expect(d.entry.realm == e.realm)
            #expect(d.entry.protocolName == e.protocolName)
            #expect(d.entry.protocolVersion == e.protocolVersion)
            #expect(d.entry.addresses == e.addresses)
            #expect(d.entry.addresses.map(\.isIPv4) == [false, true] || d.entry.addresses.map(\.isIPv4) == [true, false])
            #expect(d.entry.gossipPort == e.gossipPort)
            #expect(d.entry.chatPort == e.chatPort)
            #expect(d.entry.status == status)
            #expect(d.entry.statusText == e.statusText)
            #expect(d.entry.capabilities == e.capabilities)
            #expect(d.entry.version == e.version)
            #expect(d.entry.flags == flags)
            #expect(d.entry.isForeign == foreign)
            #expect(d.payload == signed.payload)
            #expect(d.signature == signed.signature)
            #expect(d.id == signed.id)
            #expect(d.owner == Fixture.alice.id)
            #expect(d.version == e.version)
            #expect(d == signed)
            #expect(d.hashValue == signed.hashValue)
            #expect(d.hasValidSignature)
            #expect(d.encodedSize == signed.encodedSize)
            #expect(Fixture.wire(d) == bytes)
        }
    }

    @Test func edgeCaseFieldsRoundTrip() throws {
        let entries = [
            Fixture.entry(handle: "", realm: "", protocolName: "", addresses: [], gossipPort: 0, chatPort: 0, capabilities: []),
            Fixture.entry(handle: "Zoë 🦊", protocolVersion: .max, gossipPort: .max, chatPort: .max,
                          capabilities: Capabilities(rawValue: .max), version: EntryVersion(incarnation: 0, sequence: 0)),
            Fixture.entry(addresses: [HostAddress("::")!, HostAddress("0.0.0.0")!, HostAddress("::1")!, .ipv4(255, 255, 255, 255)]),
            Fixture.foreignEntry(name: ""),
        ]
        for e in entries {
            let s = try Fixture.signed(e)
            let d = try Fixture.decode(Fixture.wire(s))
            #expect(d.entry == e)
            #expect(d.hasValidSignature)
        }
    }

    @Test func idsAndOwners() throws {
        let native = try Fixture.signed(Fixture.entry())
        #expect(native.id == Fixture.alice.id)
        #expect(native.owner == Fixture.alice.id)
        #expect(native.id == native.entry.id)

        let foreign = try Fixture.signed(Fixture.foreignEntry())
        #expect(foreign.owner == Fixture.alice.id)
        #expect(foreign.id == NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: Fixture.alice.id))
        #expect(foreign.id == foreign.entry.id)
        #expect(foreign.id != foreign.owner)
    }

    @Test func entriesStreamBackToBack() throws {
        let entries = try [Fixture.entry(), Fixture.foreignEntry(), Fixture.entry(of: Fixture.bob, handle: "bob")]
            .map { e in try Fixture.signed(e, by: e.publicKey == Fixture.bob.publicKey ? Fixture.bob : Fixture.alice) }
        var w = ByteWriter()
        for e in entries { e.encode(into: &w) }
        #expect(w.count == entries.map(\.encodedSize).reduce(0, +))
        var r = ByteReader(w.bytes)
        for e in entries {
            let d = try SignedEntry.decode(from: &r)
            #expect(d == e)
            #expect(d.hasValidSignature)
        }
        #expect(r.isAtEnd)
    }

    @Test func encodedSizeEqualsBytesWritten() throws {
        for length in stride(from: 0, through: 24, by: 1) {
            for e in [Fixture.entry(statusText: String(repeating: "x", count: length)),
                      Fixture.foreignEntry(name: String(repeating: "n", count: length * 3))] {
                let s = try Fixture.signed(e)
                var w = ByteWriter()
                w.u8(0xaa)  // the size must not depend on what precedes the entry
                s.encode(into: &w)
                #expect(w.count - 1 == s.encodedSize)
                #expect(s.encodedSize == ByteWriter.varintSize(UInt64(s.payload.count)) + s.payload.count + 64)
            }
        }
    }

    // MARK: Wire layout

    @Test func payloadFollowsTheDocumentedLayout() throws {
        let native = try Fixture.signed(Fixture.entry())
        #expect(native.payload == PayloadBuilder().bytes)

        var b = PayloadBuilder()
        b.flags = 1 | PresenceEntry.Flags.retracted.rawValue
        b.handle = Array("Carol".utf8)
        b.realm = Array("xmpp-ll".utf8)
        b.protocolName = Array("xmpp".utf8)
        b.protocolVersion = 0
        b.addresses = [HostAddress("fe80::1")!.bytes, [10, 0, 0, 7]]
        b.gossipPort = 0
        b.chatPort = 5562
        b.status = PresenceStatus.away.rawValue
        b.statusText = Array("lunch 🍜".utf8)
        b.capabilities = UInt64(Capabilities([.chat, .typing]).rawValue)
        b.foreignName = Array("carol@laptop".utf8)
        var e = Fixture.foreignEntry()
        e.flags = .retracted
        #expect(try Fixture.signed(e).payload == b.bytes)
    }

    @Test func wireFormIsLengthPayloadSignature() throws {
        let s = try Fixture.signed(Fixture.foreignEntry())
        let bytes = Fixture.wire(s)
        var w = ByteWriter()
        w.varint(UInt64(s.payload.count))
        #expect(Array(bytes.prefix(w.count)) == w.bytes)
        #expect(Array(bytes[w.count..<(w.count + s.payload.count)]) == s.payload)
        #expect(Array(bytes.suffix(64)) == s.signature)
        #expect(s.signature.count == SignedEntry.signatureSize)
    }

    @Test func signatureCoversDomainAndPayload() throws {
        let s = try Fixture.signed(Fixture.entry())
        #expect(SignedEntry.domain == Array("hearsay-entry-v1".utf8))
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: Fixture.alice.publicKey)
        #expect(key.isValidSignature(s.signature, for: Array("hearsay-entry-v1".utf8) + s.payload))
        #expect(!key.isValidSignature(s.signature, for: s.payload))
    }

    @Test func signatureWithoutTheDomainIsRejected() throws {
        let payload = PayloadBuilder().bytes
        var w = ByteWriter()
        w.lengthPrefixed(payload)
        w.raw(Fixture.alice.sign(payload))
        let d = try Fixture.decode(w.bytes)
        #expect(!d.hasValidSignature)
        #expect(try Fixture.decode(PayloadBuilder().wire(signedBy: Fixture.alice)).hasValidSignature)
    }

    // MARK: Tampering and forgery

    @Test(arguments: [false, true])
    func flippingAnyByteBreaksDecodingOrTheSignature(foreign: Bool) throws {
        let signed = try Fixture.signed(foreign ? Fixture.foreignEntry() : Fixture.entry())
        let bytes = Fixture.wire(signed)
        let memo = MemoizingVerifier()
        var decoded = 0
        for i in bytes.indices {
            for mask: UInt8 in [0x01, 0x10, 0x80, 0xff] {
                var tampered = bytes
                tampered[i] ^= mask
                var r = ByteReader(tampered)
                guard let d = try? SignedEntry.decode(from: &r) else { continue }
                decoded += 1
                #expect(!d.hasValidSignature, "byte \(i) ^ 0x\(String(mask, radix: 16)) still verifies")
                #expect(!memo.isAuthentic(d))
                #expect(d != signed)
            }
        }
        // Flips in the signature and in free-form fields decode, so the check above is not vacuous.
        #expect(decoded >= 4 * 64)
    }

    /// Random edits (overwrites, insertions, deletions, several at once) never crash the decoder,
    /// and nothing but the original bytes decodes to an authentic entry.
    @Test func randomMutationsNeverDecodeToAnAuthenticEntry() throws {
        let originals = try [Fixture.entry(), Fixture.foreignEntry()].map { try Fixture.wire(Fixture.signed($0)) }
        var rng = SeededRandom(seed: 0xF022)
        var decoded = 0
        for k in 0..<4_000 {
            let original = originals[k % originals.count]
            var bytes = original
            for _ in 0...rng.below(3) {
                switch rng.below(3) {
                case 0: bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(bytes.count + 1))
                default: if !bytes.isEmpty { bytes.remove(at: rng.below(bytes.count)) }
                }
            }
            guard bytes != original else { continue }
            var r = ByteReader(bytes)
            guard let d = try? SignedEntry.decode(from: &r) else { continue }
            decoded += 1
            #expect(!d.hasValidSignature || Fixture.wire(d) == Array(original.prefix(d.encodedSize)), "\(bytes)")
        }
        #expect(decoded > 100)
        // Random garbage decodes to nothing authentic either.
        for _ in 0..<2_000 {
            var r = ByteReader(Fixture.randomBytes(rng.below(500), &rng))
            if let d = try? SignedEntry.decode(from: &r) { #expect(!d.hasValidSignature) }
        }
    }

    @Test func anotherIdentityCannotSignUnderTheSameId() throws {
        for original in [Fixture.entry(), Fixture.foreignEntry()] {
            let mine = try Fixture.signed(original, by: Fixture.alice)
            // Bob cannot sign alice's entry ...
            #expect(throws: EntryError.self) { try SignedEntry.sign(original, with: Fixture.bob) }
            // ... and once he names his own key, the entry's id is no longer alice's.
            var copy = original
            copy.publicKey = Fixture.bob.publicKey
            let his = try Fixture.signed(copy, by: Fixture.bob)
            #expect(his.hasValidSignature)
            #expect(his.id != mine.id)
            #expect(his.owner == Fixture.bob.id)
            #expect(his.owner != mine.owner)
            if original.isForeign {
                #expect(his.id == NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: Fixture.bob.id))
            } else {
                #expect(his.id == Fixture.bob.id)
            }
        }
    }

    @Test func namingAnotherKeyWithoutItsPrivateKeyDoesNotVerify() throws {
        // Mallory (alice's key) claims bob's id by putting bob's public key in the payload.
        let forged = try Fixture.decode(PayloadBuilder(publicKey: Fixture.bob.publicKey).wire(signedBy: Fixture.alice))
        #expect(forged.id == Fixture.bob.id)
        #expect(!forged.hasValidSignature)

        // Splicing bob's key into alice's validly signed payload fails too.
        let s = try Fixture.signed(Fixture.entry())
        var payload = s.payload
        payload.replaceSubrange(2..<34, with: Fixture.bob.publicKey)
        var w = ByteWriter()
        w.lengthPrefixed(payload)
        w.raw(s.signature)
        let spliced = try Fixture.decode(w.bytes)
        #expect(spliced.owner == Fixture.bob.id)
        #expect(!spliced.hasValidSignature)
    }

    @Test func aKeyThatIsNotAPointDoesNotVerify() throws {
        let d = try Fixture.decode(PayloadBuilder(publicKey: [UInt8](repeating: 0xff, count: 32)).wire())
        #expect(!d.hasValidSignature)
    }

    // MARK: What sign refuses

    @Test func signRefusesAnotherNodesKey() {
        #expect(throws: EntryError.self) { try SignedEntry.sign(Fixture.entry(of: Fixture.bob), with: Fixture.alice) }
        var short = Fixture.entry()
        short.publicKey.removeLast()
        #expect(throws: EntryError.self) { try SignedEntry.sign(short, with: Fixture.alice) }
    }

    @Test func signEnforcesFieldLimits() throws {
        _ = try Fixture.signed(Fixture.entry(handle: String(repeating: "h", count: 48)))
        _ = try Fixture.signed(Fixture.entry(handle: String(repeating: "é", count: 24)))
        _ = try Fixture.signed(Fixture.entry(realm: String(repeating: "r", count: 24)))
        _ = try Fixture.signed(Fixture.entry(protocolName: String(repeating: "p", count: 24)))
        _ = try Fixture.signed(Fixture.entry(statusText: String(repeating: "s", count: 96)))
        _ = try Fixture.signed(Fixture.entry(addresses: [Fixture.v4, Fixture.v4, Fixture.v4, Fixture.v4]))
        _ = try Fixture.signed(Fixture.foreignEntry(name: String(repeating: "n", count: 96)))

        let tooBig: [PresenceEntry] = [
            Fixture.entry(handle: String(repeating: "h", count: 49)),
            Fixture.entry(handle: String(repeating: "é", count: 25)),  // 25 characters, 50 bytes
            Fixture.entry(realm: String(repeating: "r", count: 25)),
            Fixture.entry(protocolName: String(repeating: "p", count: 25)),
            Fixture.entry(statusText: String(repeating: "s", count: 97)),
            Fixture.entry(addresses: [Fixture.v4, Fixture.v4, Fixture.v4, Fixture.v4, Fixture.v4]),
            Fixture.foreignEntry(name: String(repeating: "n", count: 97)),
        ]
        for e in tooBig {
            #expect(throws: EntryError.self) { try SignedEntry.sign(e, with: Fixture.alice) }
        }
    }

    @Test func signRefusesAnEntryOverTheSizeLimit() {
        let v6 = Fixture.v6
        let e = Fixture.entry(
            foreignName: String(repeating: "n", count: 96), handle: String(repeating: "h", count: 48),
            addresses: [v6, v6, v6, v6], statusText: String(repeating: "s", count: 96))
        let error = #expect(throws: EntryError.self) { try SignedEntry.sign(e, with: Fixture.alice) }
        #expect(error?.description.contains("\(PresenceEntry.Limits.encodedSize)") == true)
    }

    @Test func theSizeLimitIsInclusive() throws {
        func candidate(_ textLength: Int) -> PresenceEntry {
            Fixture.entry(
                foreignName: String(repeating: "n", count: 96), handle: String(repeating: "h", count: 48),
                addresses: [Fixture.v6, Fixture.v6, Fixture.v6, Fixture.v6],
                statusText: String(repeating: "s", count: textLength))
        }
        var largest: SignedEntry?
        var firstRefused: Int?
        for length in 0...96 {
            if let s = try? SignedEntry.sign(candidate(length), with: Fixture.alice) {
                #expect(firstRefused == nil, "sizes must be monotonic")
                largest = s
            } else if firstRefused == nil {
                firstRefused = length
            }
        }
        let s = try #require(largest)
        #expect(s.encodedSize == PresenceEntry.Limits.encodedSize)
        #expect(firstRefused != nil)
        let d = try Fixture.decode(Fixture.wire(s))
        #expect(d == s)
        #expect(d.hasValidSignature)
    }

    @Test func signRefusesFlagsTheWireCannotCarry() {
        // Bit 0 is the codec's foreign-entry flag; bits above `retracted` are unassigned.
        for raw: UInt8 in [1 << 0, 1 << 3, 1 << 7, 0xff] {
            let e = Fixture.entry(flags: PresenceEntry.Flags(rawValue: raw))
            #expect(throws: EntryError.self, "0x\(String(raw, radix: 16))") { try SignedEntry.sign(e, with: Fixture.alice) }
        }
    }

    // MARK: What decode refuses

    @Test(arguments: [false, true])
    func truncatedPrefixesNeverDecode(foreign: Bool) throws {
        let bytes = Fixture.wire(try Fixture.signed(foreign ? Fixture.foreignEntry() : Fixture.entry()))
        for n in 0..<bytes.count {
            let error = wireError { var r = ByteReader(Array(bytes.prefix(n))); return try SignedEntry.decode(from: &r) }
            #expect(error?.reason == .truncated, "prefix of \(n) of \(bytes.count) bytes")
        }
    }

    @Test(arguments: [0, 1, 3, 0x81, 0xff] as [UInt8])
    func unknownFormatIsBadVersion(format: UInt8) {
        var b = PayloadBuilder()
        b.format = format
        #expect(wireError { try Fixture.decode(b.wire()) }?.reason == .badVersion)
    }

    @Test func unknownFormatInAnEncodedEntryIsBadVersion() throws {
        var bytes = Fixture.wire(try Fixture.signed(Fixture.entry()))
        let s = try Fixture.signed(Fixture.entry())
        bytes[ByteWriter.varintSize(UInt64(s.payload.count))] = 3
        #expect(wireError { try Fixture.decode(bytes) }?.reason == .badVersion)
    }

    /// Each payload is validly signed by the key it names: only the layout is wrong.
    @Test func malformedPayloadsAreRefused() {
        func reason(_ edit: (inout PayloadBuilder) -> Void) -> WireError.Reason? {
            var b = PayloadBuilder()
            edit(&b)
            return wireError { try Fixture.decode(b.wire()) }?.reason
        }
        #expect(reason { _ in } == nil)
        #expect(reason { $0.flags = 1 << 3 } == .malformed)
        #expect(reason { $0.flags = 0x80 } == .malformed)
        #expect(reason { $0.status = 4 } == .malformed)
        #expect(reason { $0.status = 0xff } == .malformed)
        #expect(reason { $0.addresses = [[1, 2, 3, 4, 5]] } == .malformed)
        #expect(reason { $0.addresses = [[]] } == .malformed)
        #expect(reason { $0.addresses = Array(repeating: [1, 2, 3, 4], count: 5) } == .oversized)
        #expect(reason { $0.addressCount = 255; $0.addresses = [] } == .oversized)
        #expect(reason { $0.addressCount = 3 } == .malformed)  // reads the ports as an address length
        #expect(reason { $0.handle = Array(repeating: 0x68, count: 49) } == .oversized)
        #expect(reason { $0.realm = Array(repeating: 0x72, count: 25) } == .oversized)
        #expect(reason { $0.protocolName = Array(repeating: 0x70, count: 25) } == .oversized)
        #expect(reason { $0.statusText = Array(repeating: 0x73, count: 97) } == .oversized)
        #expect(reason { $0.flags = 1; $0.foreignName = Array(repeating: 0x6e, count: 97) } == .oversized)
        #expect(reason { $0.handle = [0xc3, 0x28] } == .malformed)
        #expect(reason { $0.statusText = [0xff] } == .malformed)
        #expect(reason { $0.capabilities = UInt64(UInt32.max) } == nil)
        #expect(reason { $0.capabilities = UInt64(UInt32.max) + 1 } == .malformed)
        #expect(reason { $0.trailing = [0] } == .malformed)
        #expect(reason { $0.flags = 1 } == .truncated)  // foreign flag, no name
        #expect(reason { $0.foreignName = Array("carol".utf8) } == .malformed)  // name, no flag
        #expect(reason { $0.publicKey = Array(Fixture.alice.publicKey.prefix(31)) } != nil)
    }

    @Test func payloadLongerThanTheLimitIsOversized() {
        var w = ByteWriter()
        w.varint(UInt64(PresenceEntry.Limits.encodedSize + 1))
        w.raw([UInt8](repeating: 0, count: PresenceEntry.Limits.encodedSize + 1 + 64))
        #expect(wireError { try Fixture.decode(w.bytes) }?.reason == .oversized)
    }

    /// Decoding accepts nothing that `sign` refuses: a validly signed entry whose fields are each
    /// within their limit but whose total exceeds `Limits.encodedSize` is oversized.
    @Test func decodeRefusesWhatSignRefuses() throws {
        var b = PayloadBuilder()
        b.flags = 1
        b.handle = Array(repeating: 0x68, count: 48)
        b.foreignName = Array(repeating: 0x6e, count: 96)
        b.addresses = Array(repeating: Fixture.v6.bytes, count: 4)
        b.statusText = Array(repeating: 0x73, count: 60)
        let wire = b.wire()
        #expect(wire.count > PresenceEntry.Limits.encodedSize)
        #expect(wireError { try Fixture.decode(wire) }?.reason == .oversized)

        b.statusText = Array(repeating: 0x73, count: 58)
        let fits = b.wire()
        #expect(fits.count == PresenceEntry.Limits.encodedSize)
        let d = try Fixture.decode(fits)
        #expect(d.hasValidSignature)
        #expect(d.encodedSize == fits.count)
    }

    // MARK: Identity

    @Test func equalityIsByBytes() throws {
        let a = try Fixture.signed(Fixture.entry())
        let b = try Fixture.decode(Fixture.wire(a))
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        let other = try Fixture.signed(Fixture.entry(statusText: "changed"))
        #expect(a != other)
        #expect(Set([a, b, other]).count == 2)
    }

    @Test func description() throws {
        let s = try Fixture.signed(Fixture.entry(status: .busy))
        #expect(s.description == "\(Fixture.alice.id.short) alice v3.17 busy")
    }
}
