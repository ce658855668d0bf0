@testable import Gossip
import HearsayModel
import Testing

@Suite struct GossipCodecTests {
    // MARK: Samples

    static let e1 = Fx.signed(1, inc: 3, seq: 9, status: .busy, text: "in a meeting")
    static let e2 = Fx.signed(2, inc: 1, seq: 0, flags: .left)
    static let carol = Fx.foreign(3, name: "carol@laptop")

    static let updates: [Update] = [
        Update(.entry(e1), hops: 3),
        Update(.suspect(id: Fx.id(4), incarnation: 7, from: Fx.id(5)), hops: 1),
        Update(.dead(id: Fx.id(6), incarnation: 300, from: Fx.id(7)), hops: 255),
        Update(.entry(carol), hops: 0),
    ]

    static let digests: [Digest] = [
        Digest(id: Fx.id(1), precedence: .entry(EntryVersion(incarnation: 3, sequence: 9))),
        Digest(id: Fx.id(4), precedence: .suspect(7)),
        Digest(id: Fx.id(6), precedence: .dead(1 << 40)),
        Digest(id: Fx.id(8), precedence: .entry(EntryVersion(incarnation: .max, sequence: .max))),
    ]

    static let records: [SyncRecord] = [
        SyncRecord(entry: e1, state: .alive, claimIncarnation: 0),
        SyncRecord(entry: Fx.signed(4), state: .suspect, claimIncarnation: 5, claimant: Fx.id(9)),
        SyncRecord(entry: Fx.signed(6), state: .dead, claimIncarnation: 1 << 33, claimant: Fx.id(10)),
        SyncRecord(entry: e2, state: .left, claimIncarnation: 0),
    ]

    static let buckets: [UInt64] = {
        var rng = SeededRandom(seed: 99)
        return (0..<256).map { _ in rng.next() }
    }()

    static let datagrams: [GossipMessage] = [
        .ping(seq: 1, from: Fx.id(1), target: Fx.id(2), updates: updates),
        .ping(seq: .max, from: Fx.id(1), target: Fx.id(2), updates: []),
        .ack(seq: 300, from: Fx.id(2), updates: updates),
        .ack(seq: 0, from: Fx.id(2), updates: []),
        .pingReq(seq: 77, from: Fx.id(1), target: Fx.id(3), address: Fx.address(3), updates: updates),
        .pingReq(seq: 78, from: Fx.id(1), target: Fx.id(3), address: PeerAddress("[2001:db8::1]:7946")!,
                 updates: [updates[1], updates[2]]),
        .nack(seq: 123_456, from: Fx.id(9)),
        .push(updates: updates),
        .push(updates: []),
        .ihave(digests: digests),
        .ihave(digests: []),
        .graft(digests: digests),
        .challenge(seq: 9),
        .response(seq: .max),
    ]

    static let streams: [GossipMessage] = [
        .syncRequest(SyncRequest(kind: .join, from: Fx.id(1), root: 0xDEAD_BEEF_0123_4567, count: 4,
                                 records: [records[0]])),
        .syncRequest(SyncRequest(kind: .periodic, from: Fx.id(2), root: .max, count: 70_000, records: records)),
        .syncRequest(SyncRequest(kind: .reconnect, from: Fx.id(3), root: 0, count: .max, records: [records[2]])),
        .syncRequest(SyncRequest(kind: .periodic, from: Fx.id(2), root: 1, count: 1, records: [])),
        .syncBuckets(root: 0x0102_0304_0506_0708, buckets: buckets),
        .syncDigest(buckets: [0, 7, 255], digests: digests),
        .syncDigest(buckets: [], digests: []),
        .syncRecords(records: records, wants: [Fx.id(10), Fx.id(11)]),
        .syncRecords(records: [], wants: [Fx.id(12)]),
        .syncRecords(records: records, wants: []),
        .syncEqual,
    ]

    static let all = datagrams + streams

    static let key = PairKey(testingBytes: Array(repeating: 3, count: 32))
    static let trailer = [UInt8](repeating: 0, count: GossipCodec.trailerSize)

    /// Who a datagram says sent it: the `from` of the probe messages, else node 0.
    static func sender(of m: GossipMessage) -> NodeID {
        switch m {
        case .ping(_, let f, _, _), .ack(_, let f, _), .pingReq(_, let f, _, _, _), .nack(_, let f): f
        default: Fx.id(0)
        }
    }

    /// The bytes on the wire: a datagram with its trailer, a stream message as it is.
    static func wire(_ m: GossipMessage) -> [UInt8] {
        m.isStream ? GossipCodec.encode(m) : GossipCodec.encodeDatagram(m, sender: sender(of: m), tag: key.tag)
    }

    static func open(_ bytes: [UInt8], maxSize: Int = 1400) throws(WireError) -> GossipMessage {
        try GossipCodec.decodeDatagram(bytes, maxSize: maxSize).message
    }

    // MARK: Round trips

    @Test func everyMessageRoundTripsWithEqualFields() throws {
        #expect(Self.datagrams.allSatisfy { !$0.isStream })
        #expect(Self.streams.allSatisfy { $0.isStream })
        for m in Self.datagrams {
            let bytes = Self.wire(m)
            let sealed = try GossipCodec.decodeDatagram(bytes)
            expectSame(sealed.message, m)
            #expect(sealed.sender == Self.sender(of: m))
            #expect(Self.key.isValid(tag: sealed.tag, for: sealed.authenticated), "\(m.name)")
            #expect(Self.wire(sealed.message) == bytes, "\(m.name)")
        }
        for m in Self.streams {
            let bytes = GossipCodec.encode(m)
            let d = try GossipCodec.decodeStream(bytes)
            expectSame(d, m)
            #expect(GossipCodec.encode(d) == bytes, "\(m.name)")
        }
    }

    @Test func decodedEntriesKeepTheirSignatures() throws {
        let d = try Self.open(Self.wire(.push(updates: Self.updates)))
        let entries = d.updates.compactMap(\.entry)
        #expect(entries.count == 2)
        #expect(entries.allSatisfy { $0.hasValidSignature })
        #expect(entries[0].entry == Self.e1.entry)
        #expect(entries[1].entry.foreignName == "carol@laptop")
        #expect(entries[1].id == Self.carol.id)
    }

    @Test func encodedSizeMatchesTheEncoding() {
        for m in Self.all {
            #expect(GossipCodec.encodedSize(m) == Self.wire(m).count, "\(m.name)")
        }
    }

    @Test func everyStrictPrefixFailsToDecode() {
        for m in Self.all {
            let body = GossipCodec.encode(m)
            let bytes = Self.wire(m)
            var accepted = [Int]()
            for n in 0..<body.count where wireError({ _ = try GossipCodec.decode(Array(body[0..<n]), sender: .none) }) == nil {
                accepted.append(n)
            }
            for n in 0..<bytes.count {
                let prefix = Array(bytes[0..<n])
                let viaPublic = m.isStream
                    ? wireError { _ = try GossipCodec.decodeStream(prefix) }
                    : wireError { _ = try GossipCodec.decodeDatagram(prefix, maxSize: 1 << 20) }
                if viaPublic == nil { accepted.append(n) }
            }
            #expect(accepted.isEmpty, "\(m.name): prefixes of lengths \(accepted) decoded")
        }
    }

    // MARK: Refusals

    @Test func oversizedDatagramIsRefused() throws {
        let big = GossipMessage.push(updates: Array(repeating: Update(.entry(Self.e1)), count: 12))
        let bytes = Self.wire(big)
        #expect(bytes.count > 1400)
        #expect(wireError { _ = try GossipCodec.decodeDatagram(bytes, maxSize: 1400) }?.reason == .oversized)
        // The same bytes are fine when the limit allows them: only the size was wrong.
        let d = try Self.open(bytes, maxSize: bytes.count)
        #expect(d.updates.count == 12)
        // Size is checked before parsing: junk over the limit is oversized, not malformed.
        #expect(wireError { _ = try GossipCodec.decodeDatagram([UInt8](repeating: 0xff, count: 1401)) }?.reason
            == .oversized)
    }

    @Test func unknownTypeByteIsRefused() {
        for type: UInt8 in [0, 10, 15, 21, 99, 255] {
            #expect(wireError { _ = try GossipCodec.decode([GossipCodec.version, type], sender: .none) }?.reason
                == .unknownType, "type \(type)")
            #expect(wireError { _ = try GossipCodec.decodeDatagram([GossipCodec.version, type, 0, 0] + Self.trailer) }?.reason
                == .unknownType)
        }
        // An unknown update kind inside a push is refused too.
        var w = ByteWriter()
        w.u8(GossipCodec.version); w.u8(5); w.u8(1); w.u8(9); w.u8(0)
        w.id(Fx.id(1)); w.varint(1); w.id(Fx.id(2))
        #expect(wireError { _ = try GossipCodec.decodeDatagram(w.bytes + Self.trailer) }?.reason == .unknownType)
    }

    @Test func wrongVersionIsRefused() {
        for m in [Self.datagrams[0], Self.streams[0]] {
            for version: UInt8 in [0, 1, 3, 255] {
                var bytes = GossipCodec.encode(m)
                bytes[0] = version
                #expect(wireError { _ = try GossipCodec.decode(bytes, sender: .none) }?.reason == .badVersion)
            }
        }
        #expect(wireError { _ = try GossipCodec.decodeStream([1, 20]) }?.reason == .badVersion)
    }

    @Test func trailingBytesAreMalformed() {
        for m in Self.all {
            for junk: [UInt8] in [[0], [0xff, 0xff, 0xff]] {
                let bytes = GossipCodec.encode(m) + junk
                let error = m.isStream
                    ? wireError { _ = try GossipCodec.decodeStream(bytes) }
                    : wireError { _ = try GossipCodec.decodeDatagram(bytes + Self.trailer) }
                #expect(error?.reason == .malformed, "\(m.name) + \(junk)")
            }
        }
    }

    @Test func streamTypesAreRefusedInDatagramsAndViceVersa() throws {
        for m in Self.streams {
            let bytes = GossipCodec.encode(m)
            #expect(wireError { _ = try GossipCodec.decodeDatagram(bytes + Self.trailer, maxSize: 1 << 20) }?.reason
                == .unknownType, "\(m.name)")
            _ = try GossipCodec.decodeStream(bytes)
        }
        for m in Self.datagrams {
            #expect(wireError { _ = try GossipCodec.decodeStream(GossipCodec.encode(m)) }?.reason == .unknownType, "\(m.name)")
            _ = try Self.open(Self.wire(m))
        }
    }

    @Test func hugeClaimedCountsAreRefused() {
        func message(_ type: UInt8, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
            var w = ByteWriter()
            w.u8(GossipCodec.version)
            w.u8(type)
            body(&w)
            return w.bytes
        }
        let huge: [UInt64] = [1 << 20, 1 << 40, UInt64(Int.max), .max]
        for n in huge {
            let cases: [(String, [UInt8])] = [
                ("ihave", message(6) { $0.varint(n) }),
                ("graft", message(7) { $0.varint(n); $0.raw([UInt8](repeating: 0, count: 40)) }),
                ("sync-request records", message(16) { w in
                    w.u8(1); w.id(Fx.id(1)); w.u64(0); w.varint(3); w.varint(n)
                }),
                ("sync-request row count", message(16) { w in
                    w.u8(1); w.id(Fx.id(1)); w.u64(0); w.varint(n | 1 << 32); w.varint(0)
                }),
                ("sync-buckets", message(17) { $0.u64(0); $0.varint(n) }),
                ("sync-digest buckets", message(18) { $0.varint(n) }),
                ("sync-digest digests", message(18) { $0.varint(0); $0.varint(n) }),
                ("sync-records records", message(19) { $0.varint(n); $0.varint(0) }),
                ("sync-records wants", message(19) { $0.varint(0); $0.varint(n); $0.raw([UInt8](repeating: 1, count: 64)) }),
            ]
            for (what, bytes) in cases {
                #expect(wireError { _ = try GossipCodec.decode(bytes, sender: .none) } != nil, "\(what) claiming \(n)")
            }
        }
        // A full count byte of updates with nothing behind it.
        #expect(wireError { _ = try GossipCodec.decode(message(5) { $0.u8(255) }, sender: .none) }?.reason == .truncated)
        // A bad sync kind and a bad member state are malformed.
        #expect(wireError { _ = try GossipCodec.decode(message(16) { w in
            w.u8(9); w.id(Fx.id(1)); w.u64(0); w.varint(0); w.varint(0)
        }, sender: .none) }?.reason == .malformed)
        var rec = GossipCodec.encode(.syncRecords(records: [Self.records[0]], wants: []))
        let stateOffset = rec.count - 3  // state byte, claim varint (0), want count (0)
        #expect(rec[stateOffset] == MemberState.alive.rawValue)
        rec[stateOffset] = 9
        #expect(wireError { _ = try GossipCodec.decode(rec, sender: .none) }?.reason == .malformed)
    }

    // MARK: Field comparison

    func expectSame(_ a: GossipMessage, _ b: GossipMessage, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.typeCode == b.typeCode, sourceLocation: sourceLocation)
        switch (a, b) {
        case let (.ping(s1, f1, t1, u1), .ping(s2, f2, t2, u2)):
            #expect(s1 == s2 && f1 == f2 && t1 == t2, sourceLocation: sourceLocation)
            expectSame(u1, u2, sourceLocation: sourceLocation)
        case let (.ack(s1, f1, u1), .ack(s2, f2, u2)):
            #expect(s1 == s2 && f1 == f2, sourceLocation: sourceLocation)
            expectSame(u1, u2, sourceLocation: sourceLocation)
        case let (.pingReq(s1, f1, t1, a1, u1), .pingReq(s2, f2, t2, a2, u2)):
            #expect(s1 == s2 && f1 == f2 && t1 == t2 && a1 == a2, sourceLocation: sourceLocation)
            expectSame(u1, u2, sourceLocation: sourceLocation)
        case let (.nack(s1, f1), .nack(s2, f2)):
            #expect(s1 == s2 && f1 == f2, sourceLocation: sourceLocation)
        case let (.challenge(s1), .challenge(s2)), let (.response(s1), .response(s2)):
            #expect(s1 == s2, sourceLocation: sourceLocation)
        case let (.push(u1), .push(u2)):
            expectSame(u1, u2, sourceLocation: sourceLocation)
        case let (.ihave(d1), .ihave(d2)), let (.graft(d1), .graft(d2)):
            #expect(d1 == d2, sourceLocation: sourceLocation)
        case let (.syncRequest(r1), .syncRequest(r2)):
            #expect(r1.kind == r2.kind && r1.from == r2.from && r1.root == r2.root && r1.count == r2.count,
                    sourceLocation: sourceLocation)
            expectSame(r1.records, r2.records, sourceLocation: sourceLocation)
        case let (.syncBuckets(r1, b1), .syncBuckets(r2, b2)):
            #expect(r1 == r2 && b1 == b2, sourceLocation: sourceLocation)
        case let (.syncDigest(b1, d1), .syncDigest(b2, d2)):
            #expect(b1 == b2 && d1 == d2, sourceLocation: sourceLocation)
        case let (.syncRecords(r1, w1), .syncRecords(r2, w2)):
            expectSame(r1, r2, sourceLocation: sourceLocation)
            #expect(w1 == w2, sourceLocation: sourceLocation)
        case (.syncEqual, .syncEqual):
            break
        default:
            Issue.record("\(a.name) is not \(b.name)", sourceLocation: sourceLocation)
        }
    }

    func expectSame(_ a: [Update], _ b: [Update], sourceLocation: SourceLocation) {
        guard a.count == b.count else {
            Issue.record("\(a.count) updates, expected \(b.count)", sourceLocation: sourceLocation)
            return
        }
        for (x, y) in zip(a, b) {
            #expect(x.hops == y.hops, sourceLocation: sourceLocation)
            switch (x.kind, y.kind) {
            case let (.entry(e1), .entry(e2)):
                #expect(e1 == e2 && e1.payload == e2.payload && e1.signature == e2.signature && e1.id == e2.id,
                        sourceLocation: sourceLocation)
            case let (.claim(c1), .claim(c2)):
                #expect(c1 == c2, sourceLocation: sourceLocation)
            default:
                Issue.record("update kinds differ: \(x.kind) vs \(y.kind)", sourceLocation: sourceLocation)
            }
        }
    }

    func expectSame(_ a: [SyncRecord], _ b: [SyncRecord], sourceLocation: SourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            #expect(x.entry == y.entry && x.state == y.state && x.claim == y.claim, sourceLocation: sourceLocation)
        }
    }
}
