import HearsayModel
import NativeWire

/// libFuzzer target `native`: the bytes a native chat peer sends on its (TLS) connection, cut by
/// `NativeFrameDecoder` and decoded by `NativeCodec.decode`, as `RealmNative` does. Checks:
/// - the frame decoder gives the same payloads and the same refusal fed all at once and fed in
///   small chunks (sizes drawn from a hash of the input), and never holds more than one frame's
///   worth plus one chunk;
/// - a refusal is a `WireError`, never a trap;
/// - an accepted message encodes to bytes that decode to the same message and re-encode
///   identically, and its frame (`NativeCodec.frame`) cuts back to that payload.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNative(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let whole = frames(input, chunk: max(input.count, 1))
    var h = fnv1a(input)
    let chunk = 1 + Int(h % 61)
    h /= 61
    let chunked = frames(input, chunk: chunk)
    expect(whole.payloads == chunked.payloads && whole.error == chunked.error,
           "chunks of \(chunk) bytes cut other frames", input)
    expect(chunked.peak <= 4 + NativeCodec.maxFrame + chunk, "held \(chunked.peak) bytes", input)
    for payload in whole.payloads {
        guard let m = try? NativeCodec.decode(payload) else { continue }
        let again = NativeCodec.encode(m)
        do {
            let m2 = try NativeCodec.decode(again)
            expect(m2 == m, "\(m.kind) changed on a round trip", input)
            expect(NativeCodec.encode(m2) == again, "\(m.kind): decode ∘ encode is not stable", input)
        } catch {
            finding("the re-encoding of \(m.kind) is refused: \(error)", input)
        }
        let f = frames(NativeCodec.frame(m), chunk: 7)
        expect(f.payloads == [again] && f.error == nil, "\(m.kind): its frame does not cut back", input)
    }
    return 0
}

/// The payloads `bytes` cut into, fed `chunk` bytes at a time, up to the first refusal.
func frames(_ bytes: [UInt8], chunk: Int) -> (payloads: [[UInt8]], error: WireError?, peak: Int) {
    var d = NativeFrameDecoder()
    var out: [[UInt8]] = []
    var peak = 0
    var at = 0
    while at < bytes.count {
        let end = min(bytes.count, at + chunk)
        d.feed(bytes[at..<end])
        at = end
        peak = max(peak, d.pending)
        do {
            while let p = try d.next() { out.append(p) }
        } catch {
            return (out, error, peak)
        }
    }
    return (out, nil, peak)
}
