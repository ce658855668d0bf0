import Testing
import XMPPWire

/// SplitMix64: a seeded generator, so random chunkings are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The opening tag of a stream, without `from` or `to`.
let bareOpen = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"

/// Feeds `bytes` in the given chunk sizes (cycled) and collects the events.
func parse(_ bytes: [UInt8], chunks: [Int], limits: XMLStreamParser.Limits = .init()) -> [XMLStreamParser.Event] {
    let parser = XMLStreamParser(limits: limits)
    var events: [XMLStreamParser.Event] = []
    var offset = 0, i = 0
    while offset < bytes.count {
        let n = min(max(chunks[i % chunks.count], 1), bytes.count - offset)
        events += parser.feed(bytes[offset..<offset + n])
        offset += n
        i += 1
    }
    return events
}

/// A stream as finch writes one (double quotes, an XML declaration, no `version`), with text that
/// exercises entities, character references, CDATA, multi-byte UTF-8 and whitespace keep-alives.
let finchStream = Array(("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n"
    + "<stream:stream xmlns=\"jabber:client\" xmlns:stream=\"http://etherx.jabber.org/streams\" "
    + "from=\"bob@pc\" to=\"ann@host\">"
    + "<message to='ann@host' from='bob@pc' type='chat'><body>a&lt;b &amp;amp; c é😀 &#x263A;&#9731;</body>"
    + "<html xmlns='http://www.w3.org/1999/xhtml'><body><font>a&amp;lt;b</font></body></html>"
    + "<x xmlns='jabber:x:event'><composing/></x></message>\n \n"
    + "<message type=\"chat\"><body><![CDATA[<raw> & ]]>tail\nline2</body></message> "
    + "<iq type='get' id='q1'><query xmlns='jabber:iq:version'/></iq>"
    + "</stream:stream>").utf8)

@Suite struct XMLStreamParserTests {
    @Test func wholeStreamGivesHeaderStanzasAndEnd() throws {
        let events = parse(finchStream, chunks: [finchStream.count])
        #expect(events.count == 5)
        guard case .streamOpened(let header) = events[0] else { Issue.record("no header: \(events)"); return }
        #expect(header.name == "stream" && header.namespace == XMPPNamespace.streams)
        #expect(header[attribute: "from"] == "bob@pc" && header[attribute: "to"] == "ann@host")
        #expect(header[attribute: "version"] == nil)
        guard case .stanza(let m) = events[1] else { Issue.record("no stanza"); return }
        #expect(m.name == "message" && m.namespace == XMPPNamespace.client)
        #expect(m.child("body")?.text == "a<b &amp; c é😀 ☺☃")
        #expect(m.child("html")?.namespace == XMPPNamespace.xhtml)
        #expect(m.child("html")?.child("body")?.child("font")?.text == "a&lt;b")
        #expect(m.child("x", namespace: "jabber:x:event")?.child("composing") != nil)
        guard case .stanza(let m2) = events[2] else { Issue.record("no second stanza"); return }
        #expect(m2.child("body")?.text == "<raw> & tail\nline2")
        guard case .stanza(let iq) = events[3] else { Issue.record("no iq"); return }
        #expect(iq.name == "iq" && iq.child("query")?.namespace == "jabber:iq:version")
        #expect(events[4] == .streamClosed)
    }

    @Test func byteByByteGivesTheSameEvents() {
        #expect(parse(finchStream, chunks: [1]) == parse(finchStream, chunks: [finchStream.count]))
    }

    @Test(arguments: [1, 2, 3, 42, 2026]) func randomChunksGiveTheSameEvents(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let chunks = (0..<64).map { _ in Int.random(in: 1...40, using: &rng) }
        #expect(parse(finchStream, chunks: chunks) == parse(finchStream, chunks: [finchStream.count]))
    }

    /// Each stanza is reported when its last byte arrives, not later (a chat must not wait for
    /// the next message to see this one).
    @Test func eachStanzaIsReportedOnItsLastByte() {
        let stanzas = ["<message><body>one</body></message>", "<message><body>" + String(repeating: "é", count: 3000)
            + "</body></message>", "<iq type='get' id='x'/>"]
        let parser = XMLStreamParser()
        #expect(parser.feed(StreamHeader.bytes(from: "bob@pc", to: nil)).count == 1)
        for stanza in stanzas {
            let bytes = Array(stanza.utf8)
            for (i, b) in bytes.enumerated() {
                let events = parser.feed([b])
                #expect(events.count == (i == bytes.count - 1 ? 1 : 0), "byte \(i) of \(bytes.count)")
            }
        }
    }

    @Test func aLargeStanzaSplitAnywhereArrivesWhole() {
        // 24 KB of text, twice in the stanza (body and XHTML part: under the 64 KiB limit), with
        // multi-byte characters, fed in chunks that cut UTF-8 sequences and entity references.
        let text = String(repeating: String(repeating: "ça & <ok> 😀 ", count: 10) + "\n", count: 150)
        let stanza = MessageStanza(body: text)
        let stream = StreamHeader.bytes(from: "bob@pc", to: "ann@host") + stanza.bytes + StreamHeader.end
        var rng = SplitMix64(seed: 7)
        let chunks = (0..<500).map { _ in Int.random(in: 1...700, using: &rng) }
        let events = parse(stream, chunks: chunks)
        #expect(events.count == 3)
        guard case .stanza(let m) = events[1] else { Issue.record("\(events)"); return }
        #expect(MessageStanza(m)?.body == text)
    }

    @Test func whitespaceKeepAlivesAndFeaturesAreHarmless() {
        let bytes = Array((bareOpen + " version='1.0'>   \n<stream:features/>  ").utf8)
        let events = parse(bytes, chunks: [3])
        #expect(events.count == 2)
        guard case .stanza(let f) = events.last else { Issue.record("\(events)"); return }
        #expect(f.name == "features" && f.namespace == XMPPNamespace.streams)
    }

    @Test func anyPrefixForTheStreamNamespace() {
        let stream = "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'><message/></s:stream>"
        let bytes = Array(stream.utf8)
        let events = parse(bytes, chunks: [5])
        #expect(events.count == 3)
        #expect(events.last == .streamClosed)
    }

    @Test func nothingAfterTheEnd() {
        let parser = XMLStreamParser()
        let events = parser.feed(Array((bareOpen + "></stream:stream><junk>").utf8))
        #expect(events.count == 2 && events.last == .streamClosed)
        #expect(parser.isFinished)
        #expect(parser.feed(Array("<more/>".utf8)).isEmpty)
        #expect(parser.bufferedBytes == 0)
    }
}
