import HearsayModel

/// A datagram as received: the message, the member that says it sent it, and what its tag must
/// authenticate. The shell checks the tag with the pair key it shares with `sender` before the
/// message goes any further.
public struct SealedDatagram: Sendable {
    public var sender: NodeID
    public var message: GossipMessage
    /// The bytes the tag covers (everything before it).
    public var authenticated: ArraySlice<UInt8>
    public var tag: ArraySlice<UInt8>
}

/// Encodes and decodes `GossipMessage`s. Every message starts with `u8 version | u8 type`; a
/// datagram ends with `id sender | 16-byte tag` (the sender's id is not repeated in the body).
/// Decoding never trusts a count or length: limits are checked before allocation, and a
/// datagram must be consumed exactly. Layouts: Docs/protocols/gossip-wire.md.
public enum GossipCodec {
    public static let version: UInt8 = 2
    /// Bytes a datagram's trailer adds: the sender's id and the tag.
    public static let trailerSize = 16 + PairKey.tagSize
    /// A stream message may carry a whole table: 10,000 rows of at most 432 bytes (and their claims) fit.
    public static let maxStreamMessage = 8 << 20
    static let maxUpdatesPerPacket = 255
    static let maxDigests = 200_000
    static let maxRecords = 100_000

    // MARK: Encoding

    public static func encode(_ m: GossipMessage) -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        encode(m, into: &w)
        return w.bytes
    }

    /// A datagram: the message, the sender's id, and the tag `tag` computes over both.
    public static func encodeDatagram(_ m: GossipMessage, sender: NodeID, tag: ([UInt8]) -> [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        encode(m, into: &w)
        w.id(sender)
        w.raw(tag(w.bytes))
        return w.bytes
    }

    public static func encode(_ m: GossipMessage, into w: inout ByteWriter) {
        w.u8(version)
        w.u8(m.typeCode)
        switch m {
        // `from` of the probe messages travels once, as the datagram's sender.
        case .ping(let seq, _, let target, let updates):
            w.varint(UInt64(seq)); w.id(target); encode(updates, &w)
        case .ack(let seq, _, let updates):
            w.varint(UInt64(seq)); encode(updates, &w)
        case .pingReq(let seq, _, let target, let address, let updates):
            w.varint(UInt64(seq)); w.id(target); encode(address, &w); encode(updates, &w)
        case .nack(let seq, _), .challenge(let seq), .response(let seq):
            w.varint(UInt64(seq))
        case .push(let updates):
            encode(updates, &w)
        case .ihave(let digests), .graft(let digests):
            w.varint(UInt64(digests.count))
            for d in digests { encode(d, &w) }
        case .syncRequest(let r):
            w.u8(r.kind.rawValue); w.id(r.from); w.u64(r.root); w.varint(UInt64(r.count))
            w.varint(UInt64(r.records.count))
            for rec in r.records { encode(rec, &w) }
        case .syncBuckets(let root, let buckets):
            w.u64(root)
            w.varint(UInt64(buckets.count))
            for b in buckets { w.u64(b) }
        case .syncDigest(let buckets, let digests):
            w.varint(UInt64(buckets.count)); w.raw(buckets)
            w.varint(UInt64(digests.count))
            for d in digests { encode(d, &w) }
        case .syncRecords(let records, let wants):
            w.varint(UInt64(records.count))
            for rec in records { encode(rec, &w) }
            w.varint(UInt64(wants.count))
            for id in wants { w.id(id) }
        case .syncEqual:
            break
        }
    }

    /// Size of `encode(m)` without building it; for a datagram, with its trailer.
    public static func encodedSize(_ m: GossipMessage) -> Int {
        let v = ByteWriter.varintSize
        let t = trailerSize
        switch m {
        case .ping(let seq, _, _, let u): return 2 + v(UInt64(seq)) + 16 + size(u) + t
        case .ack(let seq, _, let u): return 2 + v(UInt64(seq)) + size(u) + t
        case .pingReq(let seq, _, _, let a, let u): return 2 + v(UInt64(seq)) + 16 + 3 + a.host.bytes.count + size(u) + t
        case .nack(let seq, _), .challenge(let seq), .response(let seq): return 2 + v(UInt64(seq)) + t
        case .push(let u): return 2 + size(u) + t
        case .ihave(let d), .graft(let d): return 2 + v(UInt64(d.count)) + d.reduce(0) { $0 + $1.encodedSize } + t
        case .syncRequest(let r):
            return 2 + 1 + 16 + 8 + v(UInt64(r.count)) + v(UInt64(r.records.count))
                + r.records.reduce(0) { $0 + $1.encodedSize }
        case .syncBuckets(_, let b): return 2 + 8 + v(UInt64(b.count)) + 8 * b.count
        case .syncDigest(let b, let d):
            return 2 + v(UInt64(b.count)) + b.count + v(UInt64(d.count)) + d.reduce(0) { $0 + $1.encodedSize }
        case .syncRecords(let r, let wants):
            return 2 + v(UInt64(r.count)) + r.reduce(0) { $0 + $1.encodedSize } + v(UInt64(wants.count)) + 16 * wants.count
        case .syncEqual: return 2
        }
    }

    /// Bytes a list of updates takes: a count byte and the updates.
    public static func size(_ updates: [Update]) -> Int { 1 + updates.reduce(0) { $0 + $1.encodedSize } }

    static func encode(_ updates: [Update], _ w: inout ByteWriter) {
        precondition(updates.count <= maxUpdatesPerPacket)
        w.u8(UInt8(updates.count))
        for u in updates {
            switch u.kind {
            case .entry(let e):
                w.u8(0); w.u8(u.hops); e.encode(into: &w)
            case .claim(let c):
                w.u8(c.kind.rawValue); w.u8(u.hops); w.id(c.subject); w.varint(c.incarnation); w.id(c.claimant)
                w.raw(c.signature)
            }
        }
    }

    static func encode(_ d: Digest, _ w: inout ByteWriter) {
        w.id(d.id); w.varint(d.precedence.incarnation); w.u8(d.precedence.rank); w.varint(d.precedence.sequence)
    }

    static func encode(_ r: SyncRecord, _ w: inout ByteWriter) {
        r.entry.encode(into: &w); w.u8(r.state.rawValue); w.varint(r.claimIncarnation)
        if let c = r.claim { w.u8(c.kind.rawValue); w.id(c.claimant); w.raw(c.signature) }
    }

    static func encode(_ a: PeerAddress, _ w: inout ByteWriter) {
        w.u8(UInt8(a.host.bytes.count)); w.raw(a.host.bytes); w.u16(a.port)
    }

    // MARK: Decoding

    /// Decodes one datagram of at most `maxSize` bytes. Stream message types are refused here.
    /// The tag is not checked: that takes the pair key (`SealedDatagram`).
    public static func decodeDatagram(_ bytes: [UInt8], maxSize: Int = 1400) throws(WireError) -> SealedDatagram {
        guard bytes.count <= maxSize else { throw WireError(.oversized, "datagram of \(bytes.count) bytes > \(maxSize)") }
        guard bytes.count >= 2 + trailerSize else { throw WireError(.truncated, "datagram of \(bytes.count) bytes") }
        let bodyEnd = bytes.count - trailerSize
        var tr = ByteReader(Array(bytes[bodyEnd..<(bodyEnd + 16)]))
        let sender = try tr.id("sender")
        let m = try decode(Array(bytes[..<bodyEnd]), sender: sender)
        if m.isStream { throw WireError(.unknownType, "stream message \(m.name) in a datagram") }
        return SealedDatagram(
            sender: sender, message: m, authenticated: bytes[..<(bodyEnd + 16)], tag: bytes[(bodyEnd + 16)...])
    }

    /// Decodes one stream message (a frame's payload).
    public static func decodeStream(_ bytes: [UInt8]) throws(WireError) -> GossipMessage {
        guard bytes.count <= maxStreamMessage else { throw WireError(.oversized, "stream message of \(bytes.count) bytes") }
        let m = try decode(bytes, sender: .none)
        if !m.isStream { throw WireError(.unknownType, "datagram message \(m.name) on a stream") }
        return m
    }

    /// Decodes a message; `sender` stands in for the probe messages' `from` (a datagram's trailer).
    static func decode(_ bytes: [UInt8], sender: NodeID) throws(WireError) -> GossipMessage {
        var r = ByteReader(bytes)
        let ver = try r.u8("version")
        guard ver == version else { throw WireError(.badVersion, "gossip version \(ver) (this node speaks \(version))") }
        let type = try r.u8("type")
        let m: GossipMessage
        switch type {
        case 1:
            let seq = try seq(&r)
            let target = try r.id("target")
            m = .ping(seq: seq, from: sender, target: target, updates: try updates(&r))
        case 2:
            let seq = try seq(&r)
            m = .ack(seq: seq, from: sender, updates: try updates(&r))
        case 3:
            let seq = try seq(&r)
            let target = try r.id("target")
            let address = try address(&r)
            m = .pingReq(seq: seq, from: sender, target: target, address: address, updates: try updates(&r))
        case 4:
            let seq = try seq(&r)
            m = .nack(seq: seq, from: sender)
        case 5:
            m = .push(updates: try updates(&r))
        case 6, 7:
            let n = try r.count(max: min(maxDigests, r.remaining / 19), "digest count")
            var ds = [Digest]()
            ds.reserveCapacity(n)
            for _ in 0..<n { ds.append(try digest(&r)) }
            m = type == 6 ? .ihave(digests: ds) : .graft(digests: ds)
        case 8:
            m = .challenge(seq: try seq(&r))
        case 9:
            m = .response(seq: try seq(&r))
        case 16:
            let rawKind = try r.u8("sync kind")
            guard let kind = SyncRequest.Kind(rawValue: rawKind) else { throw WireError(.malformed, "sync kind \(rawKind)") }
            let from = try r.id("from")
            let root = try r.u64("root")
            let count = try r.count(max: Int(UInt32.max), "row count")
            m = .syncRequest(SyncRequest(kind: kind, from: from, root: root, count: UInt32(count), records: try records(&r)))
        case 17:
            let root = try r.u64("root")
            let n = try r.count(max: 256, "bucket count")
            var b = [UInt64]()
            b.reserveCapacity(n)
            for _ in 0..<n { b.append(try r.u64("bucket")) }
            m = .syncBuckets(root: root, buckets: b)
        case 18:
            let nb = try r.count(max: 256, "bucket list")
            let buckets = try r.raw(nb, "buckets")
            let n = try r.count(max: min(maxDigests, r.remaining / 19), "digest count")
            var ds = [Digest]()
            ds.reserveCapacity(n)
            for _ in 0..<n { ds.append(try digest(&r)) }
            m = .syncDigest(buckets: buckets, digests: ds)
        case 19:
            let recs = try records(&r)
            let n = try r.count(max: min(maxRecords, r.remaining / 16), "want count")
            var wants = [NodeID]()
            wants.reserveCapacity(n)
            for _ in 0..<n { wants.append(try r.id("want")) }
            m = .syncRecords(records: recs, wants: wants)
        case 20:
            m = .syncEqual
        default:
            throw WireError(.unknownType, "message type \(type)")
        }
        guard r.isAtEnd else { throw WireError(.malformed, "\(r.remaining) trailing bytes after \(m.name)") }
        return m
    }

    static func seq(_ r: inout ByteReader) throws(WireError) -> UInt32 {
        let v = try r.varint("seq")
        guard v <= UInt64(UInt32.max) else { throw WireError(.malformed, "seq \(v)") }
        return UInt32(v)
    }

    static func updates(_ r: inout ByteReader) throws(WireError) -> [Update] {
        let n = Int(try r.u8("update count"))
        var out = [Update]()
        out.reserveCapacity(n)
        for _ in 0..<n {
            let kind = try r.u8("update kind")
            let hops = try r.u8("hops")
            switch kind {
            case 0:
                out.append(Update(.entry(try SignedEntry.decode(from: &r)), hops: hops))
            case 1, 2:
                let id = try r.id("subject")
                let inc = try r.varint("incarnation")
                let from = try r.id("claimant")
                let sig = try r.raw(Claim.signatureSize, "claim signature")
                let c = Claim(kind: kind == 1 ? .suspect : .dead, subject: id, incarnation: inc, claimant: from, signature: sig)
                out.append(Update(.claim(c), hops: hops))
            default:
                throw WireError(.unknownType, "update kind \(kind)")
            }
        }
        return out
    }

    static func digest(_ r: inout ByteReader) throws(WireError) -> Digest {
        let id = try r.id("digest id")
        let inc = try r.varint("incarnation")
        let rank = try r.u8("rank")
        guard rank <= 2 else { throw WireError(.malformed, "rank \(rank)") }
        let seq = try r.varint("sequence")
        return Digest(id: id, precedence: Precedence(incarnation: inc, rank: rank, sequence: seq))
    }

    static func records(_ r: inout ByteReader) throws(WireError) -> [SyncRecord] {
        let n = try r.count(max: min(maxRecords, r.remaining / 100), "record count")
        var out = [SyncRecord]()
        out.reserveCapacity(n)
        for _ in 0..<n {
            let e = try SignedEntry.decode(from: &r)
            let raw = try r.u8("state")
            guard let state = MemberState(rawValue: raw) else { throw WireError(.malformed, "member state \(raw)") }
            let inc = try r.varint("claim incarnation")
            var claim: Claim?
            if state == .suspect || state == .dead {
                let rawKind = try r.u8("claim kind")
                guard let kind = Claim.Kind(rawValue: rawKind), state == .suspect || kind == .dead else {
                    throw WireError(.malformed, "claim kind \(rawKind) behind state \(raw)")
                }
                let claimant = try r.id("claimant")
                let sig = try r.raw(Claim.signatureSize, "claim signature")
                claim = Claim(kind: kind, subject: e.id, incarnation: inc, claimant: claimant, signature: sig)
            } else if inc != 0 {
                throw WireError(.malformed, "claim incarnation \(inc) without a claim")
            }
            out.append(SyncRecord(entry: e, state: state, claim: claim))
        }
        return out
    }

    static func address(_ r: inout ByteReader) throws(WireError) -> PeerAddress {
        let len = Int(try r.u8("address length"))
        guard len == 4 || len == 16 else { throw WireError(.malformed, "address of \(len) bytes") }
        let host = HostAddress(bytes: try r.raw(len, "address"))!
        return PeerAddress(host: host, port: try r.u16("port"))
    }
}
