import Gossip
import HearsayModel

/// libFuzzer target `gossip-datagram`: one UDP datagram as the gossip shell receives it
/// (`GossipCodec.decodeDatagram`, with the 65,507-byte limit so that the size check does not hide
/// layout bugs; the tag is not checked, that takes a pair key). Checks:
/// - a refusal is a `WireError` (the decoder's typed throws) and never a trap;
/// - an accepted datagram re-encodes with its sender and tag to bytes whose length is
///   `encodedSize`, which decode again to the same sender and tag and re-encode identically
///   (decode ∘ encode is a fixed point after one step: varints need not be minimal on input);
/// - within the node's real limit (1,400 bytes), both limits agree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGossipDatagram(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let d: SealedDatagram
    do {
        d = try GossipCodec.decodeDatagram(input, maxSize: 65_507)
    } catch {
        if input.count <= 1400, (try? GossipCodec.decodeDatagram(input)) != nil {
            finding("accepted at 1,400 bytes, refused at 65,507: \(error)", input)
        }
        return 0
    }
    expect(input.count > 1400 || (try? GossipCodec.decodeDatagram(input)) != nil, "refused at 1,400 only", input)
    expect(!d.message.isStream, "stream message \(d.message.name) accepted in a datagram", input)
    let tag = Array(d.tag)
    expect(tag.count == PairKey.tagSize, "tag of \(tag.count) bytes", input)
    let again = GossipCodec.encodeDatagram(d.message, sender: d.sender, tag: { _ in tag })
    expect(GossipCodec.encodedSize(d.message) == again.count,
           "encodedSize \(GossipCodec.encodedSize(d.message)) != \(again.count) for \(d.message.name)", input)
    let d2: SealedDatagram
    do {
        d2 = try GossipCodec.decodeDatagram(again, maxSize: 65_507)
    } catch {
        finding("the re-encoding of \(d.message.name) is refused: \(error)", input)
    }
    expect(d2.sender == d.sender && Array(d2.tag) == tag, "sender or tag changed", input)
    expect(Array(d2.authenticated) == Array(again.dropLast(PairKey.tagSize)), "authenticated bytes", input)
    expect(GossipCodec.encodeDatagram(d2.message, sender: d2.sender, tag: { _ in tag }) == again,
           "decode ∘ encode is not stable for \(d.message.name)", input)
    return 0
}
