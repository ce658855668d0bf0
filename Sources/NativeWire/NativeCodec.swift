import HearsayModel

/// Encodes and decodes native messages: one message is one frame, a 4-byte big-endian length
/// then the payload (type byte, fields). Limits below keep a hostile peer's frames bounded.
public enum NativeCodec {
    /// The largest payload accepted (and sent): a message of `maxText` bytes and its fields fit.
    public static let maxFrame = 16 * 1024
    public static let maxText = 8 * 1024
    public static let maxHandle = 48
    public static let maxDetail = 256

    /// The payload of `m` (without the length prefix).
    public static func encode(_ m: NativeMessage) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.u8(m.kind.rawValue)
        switch m {
        case .hello(let lo, let hi, let node):
            w.raw(Array("HSY".utf8))
            w.u8(lo)
            w.u8(hi)
            w.id(node)
        case .close(let reason, let detail):
            w.u8(reason.rawValue)
            var d = detail
            while d.utf8.count > maxDetail { d.removeLast() }  // on a character boundary
            w.string(d)
        case .sessionRequest(let handle):
            w.string(handle)
        case .sessionAccept:
            break
        case .message(let c):
            chat(c, into: &w)
        case .relay(let realm, let user, let c):
            w.string(realm)
            w.string(user)
            chat(c, into: &w)
        case .ack(let id), .read(let id):
            w.u64(id.hi)
            w.u64(id.lo)
        case .nack(let id, let after, let reason):
            w.u64(id.hi)
            w.u64(id.lo)
            w.varint(UInt64(after))
            var d = reason
            while d.utf8.count > maxDetail { d.removeLast() }  // on a character boundary
            w.string(d)
        case .typing(let on):
            w.u8(on ? 1 : 0)
        case .ping(let n), .pong(let n):
            w.u64(n)
        }
        return w.bytes
    }

    static func chat(_ c: ChatMessage, into w: inout ByteWriter) {
        w.u64(c.id.hi)
        w.u64(c.id.lo)
        w.id(c.sender)
        w.u64(UInt64(bitPattern: c.sentAtMillis))
        w.string(c.text)
    }

    static func chat(_ r: inout ByteReader) throws(WireError) -> ChatMessage {
        let id = MessageID(hi: try r.u64("message id"), lo: try r.u64("message id"))
        let sender = try r.id("sender")
        let at = Int64(bitPattern: try r.u64("sent at"))
        return ChatMessage(id: id, sender: sender, sentAtMillis: at, text: try r.string(max: maxText, "text"))
    }

    /// Realm names and foreign user names in `relay`, as in presence entries.
    public static let maxRealm = 24
    public static let maxUser = 96

    /// `m` as a frame: length prefix and payload.
    public static func frame(_ m: NativeMessage) -> [UInt8] {
        let p = encode(m)
        return [UInt8(p.count >> 24 & 0xff), UInt8(p.count >> 16 & 0xff), UInt8(p.count >> 8 & 0xff), UInt8(p.count & 0xff)] + p
    }

    public static func decode(_ payload: [UInt8]) throws(WireError) -> NativeMessage {
        guard payload.count <= maxFrame else { throw WireError(.oversized, "frame of \(payload.count) bytes") }
        var r = ByteReader(payload)
        let t = try r.u8("type")
        guard let kind = NativeMessage.Kind(rawValue: t) else { throw WireError(.unknownType, "native message type \(t)") }
        let m: NativeMessage
        switch kind {
        case .hello:
            guard try r.raw(3, "magic") == Array("HSY".utf8) else { throw WireError(.malformed, "hello: not Hearsay") }
            let lo = try r.u8("min version"), hi = try r.u8("max version")
            guard lo <= hi else { throw WireError(.malformed, "hello: min version above max") }
            m = .hello(minVersion: lo, maxVersion: hi, node: try r.id("node"))
        case .close:
            let code = try r.u8("reason")
            guard let reason = CloseReason(rawValue: code) else { throw WireError(.malformed, "close: reason \(code)") }
            m = .close(reason, detail: try r.string(max: maxDetail, "detail"))
        case .sessionRequest:
            m = .sessionRequest(handle: try r.string(max: maxHandle, "handle"))
        case .sessionAccept:
            m = .sessionAccept
        case .message:
            m = .message(try chat(&r))
        case .relay:
            let realm = try r.string(max: maxRealm, "realm")
            let user = try r.string(max: maxUser, "user")
            m = .relay(realm: realm, user: user, message: try chat(&r))
        case .ack, .read:
            let id = MessageID(hi: try r.u64("message id"), lo: try r.u64("message id"))
            m = kind == .ack ? .ack(id) : .read(id)
        case .nack:
            let id = MessageID(hi: try r.u64("message id"), lo: try r.u64("message id"))
            let after = try r.varint("retry after")
            guard after <= UInt64(UInt32.max) else { throw WireError(.malformed, "nack: retry after \(after) ms") }
            m = .nack(id, retryAfterMillis: UInt32(after), reason: try r.string(max: maxDetail, "reason"))
        case .typing:
            let b = try r.u8("typing")
            guard b <= 1 else { throw WireError(.malformed, "typing: \(b)") }
            m = .typing(b == 1)
        case .ping, .pong:
            let n = try r.u64("nonce")
            m = kind == .ping ? .ping(n) : .pong(n)
        }
        guard r.remaining == 0 else { throw WireError(.malformed, "\(r.remaining) trailing bytes after \(kind)") }
        return m
    }

    /// The version both sides speak: the highest in both ranges, or nil.
    public static func negotiate(mine: ClosedRange<UInt8>, theirs: ClosedRange<UInt8>) -> UInt8? {
        let hi = min(mine.upperBound, theirs.upperBound)
        return hi >= max(mine.lowerBound, theirs.lowerBound) ? hi : nil
    }
}

/// Cuts a byte stream into frames, whatever the chunking: feed bytes, take payloads. A length
/// above `NativeCodec.maxFrame` is an error at once (before the payload arrives), so a peer
/// cannot make the node buffer more than one frame's worth.
public struct NativeFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Bytes held for an incomplete frame.
    public var pending: Int { buffer.count - start }

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The payload length a 4-byte frame header announces, refused if out of bounds.
    public static func payloadLength(_ header: some Collection<UInt8>) throws(WireError) -> Int {
        let n = header.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard n <= NativeCodec.maxFrame else { throw WireError(.oversized, "frame length \(n) above \(NativeCodec.maxFrame)") }
        guard n > 0 else { throw WireError(.malformed, "empty frame") }
        return n
    }

    /// The next complete payload, nil if more bytes are needed.
    public mutating func next() throws(WireError) -> [UInt8]? {
        guard pending >= 4 else { return nil }
        let b = buffer
        let n = try Self.payloadLength(b[start..<start + 4])
        guard pending >= 4 + n else { return nil }
        let payload = Array(b[(start + 4)..<(start + 4 + n)])
        start += 4 + n
        if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return payload
    }
}
