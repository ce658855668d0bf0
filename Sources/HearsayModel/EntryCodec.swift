/// The canonical byte form of a `PresenceEntry`: what its owner signs and what travels.
/// Layout (Docs/protocols/gossip-wire.md, "Presence entry"):
///
///     u8 format(=2) | u8 flags | 32 public key | 32 agreement key | varint incarnation | varint sequence
///     str handle | str realm | str protocol | u16 protocol version
///     u8 n, n × (u8 len(4|16), address) | u16 gossip port | u16 chat port
///     u8 status | str status text | varint capabilities | [str foreign name, if flag 0]
///
/// `str` is a varint byte length then UTF-8.
enum EntryCodec {
    static let format: UInt8 = 2
    static let foreignFlag: UInt8 = 1 << 0

    static func encodePayload(_ e: PresenceEntry) -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        w.u8(format)
        w.u8(e.flags.rawValue | (e.isForeign ? foreignFlag : 0))
        w.raw(e.publicKey)
        w.raw(e.agreementKey)
        w.varint(e.version.incarnation)
        w.varint(e.version.sequence)
        w.string(e.handle)
        w.string(e.realm)
        w.string(e.protocolName)
        w.u16(e.protocolVersion)
        w.u8(UInt8(e.addresses.count))
        for a in e.addresses {
            w.u8(UInt8(a.bytes.count))
            w.raw(a.bytes)
        }
        w.u16(e.gossipPort)
        w.u16(e.chatPort)
        w.u8(e.status.rawValue)
        w.string(e.statusText)
        w.varint(UInt64(e.capabilities.rawValue))
        if let name = e.foreignName { w.string(name) }
        return w.bytes
    }

    static func decodePayload(_ r: inout ByteReader) throws(WireError) -> PresenceEntry {
        let fmt = try r.u8("entry format")
        guard fmt == format else { throw WireError(.badVersion, "entry format \(fmt) (this node reads \(format))") }
        let rawFlags = try r.u8("entry flags")
        guard rawFlags & ~(PresenceEntry.Flags.known.rawValue | foreignFlag) == 0 else {
            throw WireError(.malformed, "entry flags 0x\(String(rawFlags, radix: 16))")
        }
        let key = try r.raw(32, "public key")
        let agreement = try r.raw(32, "agreement key")
        let inc = try r.varint("incarnation")
        let seq = try r.varint("sequence")
        let handle = try r.string(max: PresenceEntry.Limits.handle, "handle")
        let realm = try r.string(max: PresenceEntry.Limits.realm, "realm")
        let proto = try r.string(max: PresenceEntry.Limits.protocolName, "protocol")
        let protoVersion = try r.u16("protocol version")
        let n = Int(try r.u8("address count"))
        guard n <= PresenceEntry.Limits.addresses else { throw WireError(.oversized, "\(n) addresses") }
        var addresses = [HostAddress]()
        for _ in 0..<n {
            let len = Int(try r.u8("address length"))
            guard len == 4 || len == 16 else { throw WireError(.malformed, "address of \(len) bytes") }
            addresses.append(HostAddress(bytes: try r.raw(len, "address"))!)
        }
        let gossipPort = try r.u16("gossip port")
        let chatPort = try r.u16("chat port")
        let rawStatus = try r.u8("status")
        guard let status = PresenceStatus(rawValue: rawStatus) else { throw WireError(.malformed, "status \(rawStatus)") }
        let text = try r.string(max: PresenceEntry.Limits.statusText, "status text")
        let caps = try r.varint("capabilities")
        guard caps <= UInt64(UInt32.max) else { throw WireError(.malformed, "capabilities") }
        var foreign: String?
        if rawFlags & foreignFlag != 0 { foreign = try r.string(max: PresenceEntry.Limits.foreignName, "foreign name") }
        var e = PresenceEntry(
            publicKey: key, foreignName: foreign, handle: handle, realm: realm, protocolName: proto,
            protocolVersion: protoVersion, addresses: addresses, gossipPort: gossipPort, chatPort: chatPort,
            status: status, statusText: text, capabilities: Capabilities(rawValue: UInt32(caps)),
            version: EntryVersion(incarnation: inc, sequence: seq),
            flags: PresenceEntry.Flags(rawValue: rawFlags & ~foreignFlag))
        e.agreementKey = agreement
        return e
    }
}
