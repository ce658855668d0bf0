import Gossip
import HearsayModel

/// libFuzzer target `gossip-frames`: the bytes of one TCP sync conversation, cut into frames as
/// `FrameDecoder` (Sources/GossipNIO/FrameCodec.swift, a SwiftNIO handler, not linked here) cuts
/// them: a 4-byte big-endian length, then that many bytes; a length above
/// `GossipCodec.maxStreamMessage` closes the connection, as does an incomplete frame at the end.
/// Each frame's payload goes to `GossipCodec.decodeStream`. Checks, per frame: a refusal is a
/// `WireError`, never a trap; an accepted message is a stream message, its encoding has
/// `encodedSize` bytes, decodes again and re-encodes identically.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGossipFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    var at = 0
    while input.count - at >= 4 {
        let n = input[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
        guard n <= GossipCodec.maxStreamMessage, input.count - at - 4 >= n else { break }
        let payload = Array(input[(at + 4)..<(at + 4 + n)])
        at += 4 + n
        guard let m = try? GossipCodec.decodeStream(payload) else { continue }
        expect(m.isStream, "datagram message \(m.name) accepted on a stream", input)
        let again = GossipCodec.encode(m)
        expect(GossipCodec.encodedSize(m) == again.count,
               "encodedSize \(GossipCodec.encodedSize(m)) != \(again.count) for \(m.name)", input)
        let m2: GossipMessage
        do {
            m2 = try GossipCodec.decodeStream(again)
        } catch {
            finding("the re-encoding of \(m.name) is refused: \(error)", input)
        }
        expect(GossipCodec.encode(m2) == again, "decode ∘ encode is not stable for \(m.name)", input)
    }
    return 0
}
