import HearsayModel
import NativeWire
import Testing

@Suite struct NativeCodecTests {
    static let node = NodeID(hi: 0x0102_0304_0506_0708, lo: 0x1112_1314_1516_1718)
    static let mid = MessageID(hi: 0xdead_beef_0000_0001, lo: 42)
    static let all: [NativeMessage] = [
        .hello(minVersion: 1, maxVersion: 3, node: node),
        .close(.declined, detail: "not a friend"),
        .close(.normal, detail: ""),
        .sessionRequest(handle: "ann"),
        .sessionAccept,
        .message(ChatMessage(id: mid, sender: node, sentAtMillis: 1_795_590_000_123, text: "a<b & c — ünïcödé 🎉")),
        .message(ChatMessage(id: mid, sender: node, sentAtMillis: -1, text: String(repeating: "x", count: NativeCodec.maxText))),
        .ack(mid), .read(mid), .typing(true), .typing(false), .ping(7), .pong(.max),
        .relay(realm: "xmpp-ll", user: "carol@laptop",
               message: ChatMessage(id: mid, sender: node, sentAtMillis: 1_795_590_000_123, text: "a<b & c — ü 🎉")),
        .relay(realm: String(repeating: "r", count: NativeCodec.maxRealm), user: String(repeating: "u", count: NativeCodec.maxUser),
               message: ChatMessage(id: mid, sender: node, sentAtMillis: 0, text: String(repeating: "x", count: NativeCodec.maxText))),
        .nack(mid, retryAfterMillis: 1_000, reason: "the receiver's disk is full"),
        .nack(mid, retryAfterMillis: .max, reason: String(repeating: "é", count: NativeCodec.maxDetail / 2)),
        .nack(mid, retryAfterMillis: 0, reason: ""),
    ]

    @Test(arguments: all)
    func roundTrips(_ m: NativeMessage) throws {
        let payload = NativeCodec.encode(m)
        #expect(payload.count <= NativeCodec.maxFrame)
        #expect(try NativeCodec.decode(payload) == m)
    }

    @Test func typeBytesAreTheDocumentedOnes() {
        #expect(NativeMessage.Kind.allCases.map(\.rawValue) == [0x01, 0x02, 0x10, 0x11, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x30, 0x31])
        #expect(NativeCodec.encode(.ping(1)) == [0x30, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    @Test("nack: a long reason is cut on a character boundary; a retry above 32 bits is malformed")
    func nackBounds() throws {
        let long = NativeCodec.encode(.nack(Self.mid, retryAfterMillis: 5, reason: String(repeating: "ü", count: 300)))
        guard case .nack(_, 5, let reason) = try NativeCodec.decode(long) else { Issue.record("not a nack"); return }
        #expect(reason.utf8.count <= NativeCodec.maxDetail && reason.allSatisfy { $0 == "ü" })
        var w = ByteWriter()
        w.u8(0x25)
        w.u64(1)
        w.u64(2)
        w.varint(UInt64(UInt32.max) + 1)
        w.string("")
        #expect(throws: WireError.self) { try NativeCodec.decode(w.bytes) }
    }

    @Test func badPayloadsAreRefusedWithAReason() {
        func reason(_ b: [UInt8]) -> WireError.Reason? {
            do { _ = try NativeCodec.decode(b); return nil } catch { return error.reason }
        }
        #expect(reason([0x7f]) == .unknownType)
        #expect(reason([]) == .truncated)
        #expect(reason(Array(NativeCodec.encode(.ack(Self.mid)).dropLast())) == .truncated)
        #expect(reason(NativeCodec.encode(.ping(1)) + [0]) == .malformed)
        #expect(reason([0x01] + Array("XYZ".utf8) + [1, 1] + [UInt8](repeating: 0, count: 16)) == .malformed)
        #expect(reason([0x01] + Array("HSY".utf8) + [3, 1] + [UInt8](repeating: 0, count: 16)) == .malformed)
        #expect(reason([0x22, 2]) == .malformed)
        #expect(reason([0x02, 99, 0]) == .malformed)
        var longText = ByteWriter()
        longText.u8(0x20)
        longText.raw([UInt8](repeating: 0, count: 40))
        longText.varint(UInt64(NativeCodec.maxText + 1))
        #expect(reason(longText.bytes) == .oversized)
        #expect(reason([0x10, 2, 0xff, 0xfe]) == .malformed)  // handle not UTF-8
        var longUser = ByteWriter()
        longUser.u8(0x24)
        longUser.string("xmpp-ll")
        longUser.varint(UInt64(NativeCodec.maxUser + 1))
        #expect(reason(longUser.bytes) == .oversized)
    }

    @Test func closeDetailIsCutOnACharacterBoundary() throws {
        let m = NativeMessage.close(.badFrame, detail: String(repeating: "é", count: 200))
        guard case .close(_, let d) = try NativeCodec.decode(NativeCodec.encode(m)) else { Issue.record("not close"); return }
        #expect(d.utf8.count <= NativeCodec.maxDetail)
        #expect(d.allSatisfy { $0 == "é" })
    }

    @Test func versionNegotiation() {
        #expect(NativeCodec.negotiate(mine: 1...1, theirs: 1...1) == 1)
        #expect(NativeCodec.negotiate(mine: 1...3, theirs: 2...5) == 3)
        #expect(NativeCodec.negotiate(mine: 2...5, theirs: 1...3) == 3)
        #expect(NativeCodec.negotiate(mine: 1...1, theirs: 2...3) == nil)
    }
}

@Suite struct NativeFrameDecoderTests {
    static let stream: [UInt8] = NativeCodecTests.all.flatMap(NativeCodec.frame)

    func decodeAll(chunks: [[UInt8]]) throws -> [NativeMessage] {
        var d = NativeFrameDecoder()
        var out = [NativeMessage]()
        for c in chunks {
            d.feed(c)
            while let p = try d.next() { out.append(try NativeCodec.decode(p)) }
        }
        #expect(d.pending == 0)
        return out
    }

    @Test func byteByByte() throws {
        #expect(try decodeAll(chunks: Self.stream.map { [$0] }) == NativeCodecTests.all)
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func randomChunks(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        var chunks = [[UInt8]](), i = 0
        while i < Self.stream.count {
            let n = min(Int(rng.next() % 700) + 1, Self.stream.count - i)
            chunks.append(Array(Self.stream[i..<i + n]))
            i += n
        }
        #expect(try decodeAll(chunks: chunks) == NativeCodecTests.all)
    }

    @Test func anOversizedLengthIsRefusedBeforeItsPayload() {
        var d = NativeFrameDecoder()
        d.feed([0, 0x01, 0, 0])  // 65,536 bytes announced
        #expect(throws: WireError.self) { try d.next() }
        var e = NativeFrameDecoder()
        e.feed([0, 0, 0, 0])
        #expect(throws: WireError.self) { try e.next() }
    }

    @Test func anIncompleteFrameWaits() throws {
        var d = NativeFrameDecoder()
        let f = NativeCodec.frame(.ping(9))
        d.feed(f.dropLast())
        #expect(try d.next() == nil)
        #expect(d.pending == f.count - 1)
        d.feed(f.suffix(1))
        #expect(try d.next().map(NativeCodec.decode) == .ping(9))
    }

    @Test func messageIDText() {
        let id = NativeCodecTests.mid
        #expect(id.description == "deadbeef00000001000000000000002a")
        #expect(MessageID(id.description) == id)
        #expect(MessageID("xyz") == nil)
        var rng = SeededRandom(seed: 5)
        for _ in 0..<1_000 {
            let r = MessageID.random(using: &rng)
            #expect(MessageID(r.description) == r)
            #expect(r.description.utf8.count == 32)
        }
    }

    @Test func timeOrderedIDsSortByTimeAsTextToo() {
        var rng = SeededRandom(seed: 6)
        var last = MessageID(hi: 0, lo: 0)
        for ms in stride(from: Int64(1_795_590_000_000), to: 1_795_590_000_000 + 5_000, by: 7) {
            let id = MessageID.timeOrdered(millis: ms, using: &rng)
            #expect(id.hi >> 16 == UInt64(ms))
            #expect(id.description > last.description)
            last = id
        }
    }
}
