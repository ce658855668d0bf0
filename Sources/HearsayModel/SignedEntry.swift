import Crypto

/// A presence entry with its owner's Ed25519 signature, immutable and shared by reference.
///
/// The signature covers `"hearsay-entry-v1" ‖ payload`, where payload is the canonical encoding
/// of the entry. The entry's id is derived from the signing key, so a valid signature proves the
/// entry comes from its owner: nobody else can change or retract it. Received entries keep the
/// exact bytes they arrived with; forwarding sends those bytes again.
///
/// Wire form: `varint payload length | payload | 64-byte signature`.
public final class SignedEntry: Sendable, Hashable, CustomStringConvertible {
    public static let domain = Array("hearsay-entry-v1".utf8)
    public static let signatureSize = 64

    public let entry: PresenceEntry
    public let id: NodeID
    public let owner: NodeID
    public let payload: [UInt8]
    public let signature: [UInt8]

    init(entry: PresenceEntry, payload: [UInt8], signature: [UInt8]) {
        self.entry = entry
        self.owner = entry.owner
        self.id = entry.isForeign ? entry.id : self.owner
        self.payload = payload
        self.signature = signature
    }

    /// Encodes and signs `entry` with `identity`, which must own it.
    public static func sign(_ entry: PresenceEntry, with identity: NodeIdentity) throws(EntryError) -> SignedEntry {
        guard entry.publicKey == identity.publicKey else { throw EntryError("the entry names another node's key") }
        var entry = entry
        entry.agreementKey = identity.agreementPublicKey
        try validate(entry)
        let payload = EntryCodec.encodePayload(entry)
        let size = ByteWriter.varintSize(UInt64(payload.count)) + payload.count + signatureSize
        guard size <= PresenceEntry.Limits.encodedSize else {
            throw EntryError(
                "the entry takes \(size) bytes, more than \(PresenceEntry.Limits.encodedSize): shorten the status text, handle or address list")
        }
        return SignedEntry(entry: entry, payload: payload, signature: identity.sign(domain + payload))
    }

    static func validate(_ e: PresenceEntry) throws(EntryError) {
        func check(_ s: String, _ max: Int, _ what: String) throws(EntryError) {
            if s.utf8.count > max { throw EntryError("\(what) is \(s.utf8.count) bytes; at most \(max) are allowed") }
        }
        try check(e.handle, PresenceEntry.Limits.handle, "the handle")
        try check(e.realm, PresenceEntry.Limits.realm, "the realm name")
        try check(e.protocolName, PresenceEntry.Limits.protocolName, "the protocol name")
        try check(e.statusText, PresenceEntry.Limits.statusText, "the status text")
        if let n = e.foreignName { try check(n, PresenceEntry.Limits.foreignName, "the foreign user name") }
        if e.addresses.count > PresenceEntry.Limits.addresses {
            throw EntryError("\(e.addresses.count) addresses; at most \(PresenceEntry.Limits.addresses) are published")
        }
        if e.publicKey.count != 32 { throw EntryError("a public key has 32 bytes") }
        if e.agreementKey.count != 32 { throw EntryError("a key-agreement key has 32 bytes") }
        // Bit 0 is the codec's foreign flag and other bits are unassigned: decoding would refuse them.
        if !PresenceEntry.Flags.known.isSuperset(of: e.flags) {
            throw EntryError("unknown entry flags 0x\(String(e.flags.rawValue, radix: 16))")
        }
    }

    public var encodedSize: Int { ByteWriter.varintSize(UInt64(payload.count)) + payload.count + signature.count }

    public func encode(into w: inout ByteWriter) {
        w.lengthPrefixed(payload)
        w.raw(signature)
    }

    /// Decodes one signed entry. Checks the layout only; call `hasValidSignature` (or an
    /// `EntryVerifier`) before believing it.
    public static func decode(from r: inout ByteReader) throws(WireError) -> SignedEntry {
        let payload = try r.lengthPrefixed(max: PresenceEntry.Limits.encodedSize, "entry payload")
        let size = ByteWriter.varintSize(UInt64(payload.count)) + payload.count + signatureSize
        guard size <= PresenceEntry.Limits.encodedSize else { throw WireError(.oversized, "entry of \(size) bytes") }
        var pr = ByteReader(payload)
        let entry = try EntryCodec.decodePayload(&pr)
        guard pr.isAtEnd else { throw WireError(.malformed, "\(pr.remaining) trailing bytes in entry") }
        let sig = try r.raw(signatureSize, "signature")
        return SignedEntry(entry: entry, payload: payload, signature: sig)
    }

    /// Ed25519 verification against the key the entry names (which its id is derived from).
    public var hasValidSignature: Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: entry.publicKey) else { return false }
        return key.isValidSignature(signature, for: Self.domain + payload)
    }

    public var version: EntryVersion { entry.version }

    public static func == (a: SignedEntry, b: SignedEntry) -> Bool {
        a === b || (a.payload == b.payload && a.signature == b.signature)
    }

    public func hash(into h: inout Hasher) {
        h.combine(id)
        h.combine(signature)
    }

    public var description: String { "\(id.short) \(entry.handle) v\(entry.version) \(entry.status)" }
}
