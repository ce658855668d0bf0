import Discovery
import HearsayModel

/// libFuzzer target `txt`: a browsed DNS-SD record. The input is laid out as on the wire:
/// an instance name (u8 length, bytes), a port (u16), then the TXT rdata, a sequence of
/// length-prefixed strings (RFC 6763 §6.1). The strings go through `TXTRecord` (what
/// `AvahiTranslation.txt` calls) into `HearsayService(txt:)` and `LinkLocalPresence(instance:port:txt:)`.
/// Checks: a refusal is a `TXTError`, never a trap; an accepted record's own TXT (what the node
/// publishes) reads back to the same value; a link-local user fills an entry within its limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTXT(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard input.count >= 3 else { return 0 }
    let nameEnd = min(input.count, 1 + Int(input[0]))
    let instance = String(decoding: input[1..<nameEnd], as: UTF8.self)
    guard input.count >= nameEnd + 2 else { return 0 }
    let port = UInt16(input[nameEnd]) << 8 | UInt16(input[nameEnd + 1])
    var strings: [ArraySlice<UInt8>] = []
    var at = nameEnd + 2
    while at < input.count {
        let n = Int(input[at])
        let end = min(input.count, at + 1 + n)
        strings.append(input[(at + 1)..<end])
        at = end
    }
    let txt = TXTRecord.dictionary(strings)
    if let s = try? HearsayService(txt: txt) {
        let published = TXTRecord.dictionary(s.txt.map { Array("\($0.key)=\($0.value)".utf8) })
        do {
            let again = try HearsayService(txt: published)
            expect(again == s, "HearsayService changed on a round trip: \(s) / \(again)", input)
        } catch {
            finding("HearsayService's own TXT is refused: \(error)", input)
        }
    }
    if var p = try? LinkLocalPresence(instance: instance, port: port, txt: txt) {
        p.jid = ""  // read, not published
        let published = TXTRecord.dictionary(p.txt.map { Array("\($0.key)=\($0.value)".utf8) })
        do {
            let again = try LinkLocalPresence(instance: instance, port: port, txt: published)
            expect(again == p, "LinkLocalPresence changed on a round trip: \(p) / \(again)", input)
        } catch {
            finding("LinkLocalPresence's own TXT is refused: \(error)", input)
        }
        var e = PresenceEntry(publicKey: [UInt8](repeating: 1, count: 32), handle: "x", addresses: [], gossipPort: 0, chatPort: 0,
                              version: EntryVersion(incarnation: 1, sequence: 1))
        p.fill(&e, address: .ipv4(10, 0, 0, 1))
        expect(e.handle.utf8.count <= PresenceEntry.Limits.handle, "handle of \(e.handle.utf8.count) bytes", input)
        expect(e.statusText.utf8.count <= PresenceEntry.Limits.statusText, "status text too long", input)
        let name = HearsayService.instanceName(handle: p.displayName, host: instance)
        expect(name.utf8.count <= 63, "instance name of \(name.utf8.count) bytes", input)
    }
    return 0
}
