import HearsayModel
import Testing

/// Shared test data: deterministic identities, sample entries and wire helpers.
enum Fixture {
    static func identity(seed: UInt64) -> NodeIdentity {
        var rng = SeededRandom(seed: seed)
        return NodeIdentity.deterministic(using: &rng)
    }

    static let alice = identity(seed: 1)
    static let bob = identity(seed: 2)

    static let v4 = HostAddress("192.0.2.10")!
    static let v6 = HostAddress("2001:db8::8:800:200c:417a")!

    static func entry(
        of identity: NodeIdentity = alice, foreignName: String? = nil, handle: String = "alice",
        realm: String = "hearsay", protocolName: String = "hearsay", protocolVersion: UInt16 = 1,
        addresses: [HostAddress] = [v4, v6], gossipPort: UInt16 = 7946, chatPort: UInt16 = 5298,
        status: PresenceStatus = .available, statusText: String = "", capabilities: Capabilities = [.chat],
        version: EntryVersion = EntryVersion(incarnation: 3, sequence: 17), flags: PresenceEntry.Flags = []
    ) -> PresenceEntry {
        var e = PresenceEntry(
            publicKey: identity.publicKey, foreignName: foreignName, handle: handle, realm: realm,
            protocolName: protocolName, protocolVersion: protocolVersion, addresses: addresses,
            gossipPort: gossipPort, chatPort: chatPort, status: status, statusText: statusText,
            capabilities: capabilities, version: version, flags: flags)
        e.agreementKey = identity.agreementPublicKey  // as signing fills it in
        return e
    }

    /// A foreign (XEP-0174) user observed by alice.
    static func foreignEntry(of identity: NodeIdentity = alice, name: String = "carol@laptop") -> PresenceEntry {
        entry(
            of: identity, foreignName: name, handle: "Carol", realm: "xmpp-ll", protocolName: "xmpp",
            protocolVersion: 0, addresses: [HostAddress("fe80::1")!, HostAddress("10.0.0.7")!], gossipPort: 0,
            chatPort: 5562, status: .away, statusText: "lunch 🍜", capabilities: [.chat, .typing])
    }

    static func signed(_ e: PresenceEntry, by identity: NodeIdentity = alice) throws -> SignedEntry {
        try SignedEntry.sign(e, with: identity)
    }

    static func wire(_ s: SignedEntry) -> [UInt8] {
        var w = ByteWriter()
        s.encode(into: &w)
        return w.bytes
    }

    /// Decodes exactly one signed entry that must fill `bytes`.
    static func decode(_ bytes: [UInt8]) throws(WireError) -> SignedEntry {
        var r = ByteReader(bytes)
        let e = try SignedEntry.decode(from: &r)
        guard r.isAtEnd else { throw WireError(.malformed, "test: \(r.remaining) bytes left over") }
        return e
    }

    static func randomBytes(_ n: Int, _ rng: inout SeededRandom) -> [UInt8] {
        (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }
}

/// The `WireError` `body` throws, or nil if it returns. Any other error is a test failure.
func wireError<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) -> WireError? {
    do {
        _ = try body()
        return nil
    } catch let error as WireError {
        return error
    } catch {
        Issue.record("expected a WireError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Writes a presence-entry payload field by field, following the layout documented on
/// `EntryCodec` (Docs/protocols/gossip-wire.md), so tests can build valid and broken payloads
/// independently of the codec under test.
struct PayloadBuilder {
    var format: UInt8 = 2
    var flags: UInt8 = 0
    var publicKey: [UInt8]
    var agreementKey: [UInt8]
    var incarnation: UInt64 = 3
    var sequence: UInt64 = 17
    var handle = Array("alice".utf8)
    var realm = Array("hearsay".utf8)
    var protocolName = Array("hearsay".utf8)
    var protocolVersion: UInt16 = 1
    /// Written as the address count when set; otherwise `addresses.count`.
    var addressCount: UInt8?
    var addresses: [[UInt8]] = [Fixture.v4.bytes, Fixture.v6.bytes]
    var gossipPort: UInt16 = 7946
    var chatPort: UInt16 = 5298
    var status: UInt8 = 0
    var statusText: [UInt8] = []
    var capabilities: UInt64 = 1
    /// Written at the end when set (whatever `flags` says).
    var foreignName: [UInt8]?
    var trailing: [UInt8] = []

    init(publicKey: [UInt8] = Fixture.alice.publicKey) {
        self.publicKey = publicKey
        agreementKey = [Fixture.alice, Fixture.bob].first { $0.publicKey == publicKey }?.agreementPublicKey
            ?? [UInt8](repeating: 9, count: 32)
    }

    var bytes: [UInt8] {
        var w = ByteWriter()
        w.u8(format)
        w.u8(flags)
        w.raw(publicKey)
        w.raw(agreementKey)
        w.varint(incarnation)
        w.varint(sequence)
        w.lengthPrefixed(handle)
        w.lengthPrefixed(realm)
        w.lengthPrefixed(protocolName)
        w.u16(protocolVersion)
        w.u8(addressCount ?? UInt8(addresses.count))
        for a in addresses {
            w.u8(UInt8(a.count))
            w.raw(a)
        }
        w.u16(gossipPort)
        w.u16(chatPort)
        w.u8(status)
        w.lengthPrefixed(statusText)
        w.varint(capabilities)
        if let foreignName { w.lengthPrefixed(foreignName) }
        w.raw(trailing)
        return w.bytes
    }

    /// The wire form of this payload, validly signed by `identity` (whose key it need not name).
    func wire(signedBy identity: NodeIdentity = Fixture.alice) -> [UInt8] {
        let payload = bytes
        var w = ByteWriter()
        w.lengthPrefixed(payload)
        w.raw(identity.sign(SignedEntry.domain + payload))
        return w.bytes
    }
}
