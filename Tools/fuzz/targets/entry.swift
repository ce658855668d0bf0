@testable import HearsayModel

/// libFuzzer target `entry`: one signed presence entry (`SignedEntry.decode`, which runs
/// `EntryCodec.decodePayload` and `ByteReader`), the unit every update and sync record carries.
/// Checks: a refusal is a `WireError`, never a trap; an accepted entry
/// - is one its owner could have signed: `SignedEntry.validate` (the limits `sign` enforces)
///   accepts it, so decoder and encoder agree on every limit;
/// - writes back (`encode(into:)`) `encodedSize` bytes that decode to the same entry, payload and
///   signature, consuming them exactly;
/// - re-encoded canonically (`EntryCodec.encodePayload`) decodes to the same `PresenceEntry`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    var r = ByteReader(input)
    guard let e = try? SignedEntry.decode(from: &r) else { return 0 }
    do {
        try SignedEntry.validate(e.entry)
    } catch {
        finding("decoded, but could not have been signed: \(error)", input)
    }
    var w = ByteWriter(capacity: 512)
    e.encode(into: &w)
    expect(w.bytes.count == e.encodedSize, "encodedSize \(e.encodedSize) != \(w.bytes.count)", input)
    var r2 = ByteReader(w.bytes)
    let e2: SignedEntry
    do {
        e2 = try SignedEntry.decode(from: &r2)
    } catch {
        finding("its own encoding is refused: \(error)", input)
    }
    expect(r2.isAtEnd, "\(r2.remaining) bytes left after re-decoding", input)
    expect(e2 == e && e2.entry == e.entry && e2.id == e.id && e2.owner == e.owner, "changed on a round trip", input)
    var pr = ByteReader(EntryCodec.encodePayload(e.entry))
    do {
        let canonical = try EntryCodec.decodePayload(&pr)
        expect(pr.isAtEnd && canonical == e.entry, "the canonical payload decodes to another entry", input)
    } catch {
        finding("the canonical payload is refused: \(error)", input)
    }
    return 0
}
