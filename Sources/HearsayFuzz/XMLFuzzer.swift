import HearsayModel
import XMPPWire

/// A mutation fuzzer for the link-local XMPP stream parser and stanza writer (`XMPPWire`, issue 6).
/// Starts from streams as finch and Hearsay write them plus hostile ones, mutates them (bytes,
/// XML tokens, splices), and checks for each input:
///
/// 1. the parser never holds more than its limits plus one slice (`peakBufferedBytes`);
/// 2. fed whole and fed in random small chunks, it gives the same events (the same refusal
///    reason, if any), unless a size limit was hit, whose exact point depends on the slicing;
/// 3. every stanza it returns, written again (`XMLElement.serialized`) and parsed again, is the
///    same element; and a chat message read from it is the same message once written and read.
///
/// A crash, a trap or a broken property is a finding. Limits are small so that they are hit.
public struct XMLFuzzer {
    public struct Finding: Error, CustomStringConvertible {
        public let input: [UInt8]
        public let description: String
    }

    var rng: SeededRandom
    var corpus: [[UInt8]]
    let limits = XMLStreamParser.Limits(maxDepth: 12, maxStanzaBytes: 4096, maxMarkupBytes: 1024)
    public private(set) var stanzas = 0
    public private(set) var refused: [XMLStreamError.Reason: Int] = [:]

    public init(seed: UInt64) {
        rng = SeededRandom(seed: seed)
        corpus = Self.seedCorpus()
    }

    static let header = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<stream:stream xmlns=\"jabber:client\" "
        + "xmlns:stream=\"http://etherx.jabber.org/streams\" from=\"bob@pc\" to=\"ann@host\">"

    static func seedCorpus() -> [[UInt8]] {
        let ours = StreamHeader.bytes(from: "ann@host", to: "bob@pc")
            + MessageStanza(from: "ann@host", to: "bob@pc", id: "1", body: "a<b & c\né 😀 ]]>").bytes
            + StreamHeader.end
        let texts = [
            header + "<message to='ann@host' from='bob@pc' type='chat'><body>a&lt;b &amp; c</body>"
                + "<html xmlns='http://www.w3.org/1999/xhtml'><body><font>a&lt;b &amp; c</font></body></html>"
                + "<x xmlns='jabber:x:event'><composing/></x></message></stream:stream>",
            header + " <stream:features/><iq type='get' id='q'><query xmlns='jabber:iq:version'/></iq>"
                + "<message><body xml:lang='fr'><![CDATA[<x>]]>&#x1F600;&#13;</body></message>",
            "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns:p='urn:p'><m p:a='1'><b>t</b></m></s:stream>",
            "<!DOCTYPE s [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>" + header
                + "<message><body>&b;</body></message>",
            header + "<message><!-- c --><?pi x?></message>",
        ]
        return [ours] + texts.map { Array($0.utf8) }
    }

    /// Pieces of XML inserted by the mutator, so that mutants stay close to well-formed.
    static let tokens: [[UInt8]] = [
        "<", ">", "/>", "</", "&", "&lt;", "&amp;", "&#x0;", "&#65;", "&undefined;", "'", "\"", "=", ":",
        "<message>", "</message>", "<body>", "</body>", "<a>", "</stream:stream>", "<![CDATA[", "]]>",
        "xmlns='urn:x'", "xmlns:q='urn:q'", "q:z='1'", "<!DOCTYPE x>", "<!--", "-->", "<?x?>", "é", "😀", "\r\n",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x00]]

    /// Balanced fragments, inserted between tags: mutants that stay well-formed reach the stanza
    /// builder, the limits and the writer instead of stopping at Expat's syntax errors.
    static let fragments: [String] = [
        "<a>t</a>", "<b x='1' y=\"&amp;\"/>", "<c><d>é😀</d>&lt;</c>", "<message><body>hi</body></message>",
        "<q:e xmlns:q='urn:q' q:f='g'/>", "<p xml:lang='de'>ü</p>", "<t>&#13;&#9;\n</t>", "<![CDATA[ & < ]]>",
    ]

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var x = input
        /// Just after a random '>' (or anywhere if there is none).
        func between() -> Int {
            let ends = x.indices.filter { x[$0] == UInt8(ascii: ">") }
            return ends.isEmpty ? rng.below(x.count + 1) : ends[rng.below(ends.count)] + 1
        }
        for _ in 0..<(1 + rng.below(3)) {
            switch rng.below(10) {
            case 0 where !x.isEmpty:
                x[rng.below(x.count)] ^= UInt8(1 << rng.below(8))
            case 1:
                x.insert(contentsOf: Self.tokens[rng.below(Self.tokens.count)], at: rng.below(x.count + 1))
            case 2 where x.count > 2:
                let i = rng.below(x.count)
                x.removeSubrange(i..<min(x.count, i + 1 + rng.below(16)))
            case 3 where !x.isEmpty:
                // Repeat a range: long names and values, many stanzas.
                let i = rng.below(x.count)
                let piece = Array(x[i..<min(x.count, i + 1 + rng.below(24))])
                let times = 1 + rng.below(rng.below(4) == 0 ? 400 : 8)
                x.insert(contentsOf: Array([[UInt8]](repeating: piece, count: times).joined()), at: i)
            case 4:
                let other = corpus[rng.below(corpus.count)]
                x = Array(x[..<rng.below(x.count + 1)]) + Array(other[rng.below(other.count + 1)...])
            case 5 where !x.isEmpty:
                x.removeLast(rng.below(min(x.count, 64)) + 1)
            case 6:
                // Nesting, sometimes past the depth limit.
                let k = 1 + rng.below(16)
                let open = String(repeating: "<n>", count: k), close = String(repeating: "</n>", count: k)
                x.insert(contentsOf: Array((open + close).utf8), at: between())
            case 7:
                // Long text, sometimes past the stanza limit.
                x.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "z"), count: 1 + rng.below(6000)), at: between())
            default:
                x.insert(contentsOf: Array(Self.fragments[rng.below(Self.fragments.count)].utf8), at: between())
            }
        }
        return x
    }

    /// The events of `input` fed in `chunks` (cycled); checks the memory bound.
    func events(_ input: [UInt8], chunks: [Int]) throws(Finding) -> [XMLStreamParser.Event] {
        let parser = XMLStreamParser(limits: limits)
        var out: [XMLStreamParser.Event] = []
        var offset = 0, i = 0
        while offset < input.count {
            let n = min(chunks[i % chunks.count], input.count - offset)
            out += parser.feed(input[offset..<offset + n])
            offset += n
            i += 1
        }
        let bound = max(limits.maxStanzaBytes, limits.maxMarkupBytes) + XMLStreamParser.sliceBytes
        guard parser.peakBufferedBytes <= bound else {
            throw Finding(input: input, description: "parser held \(parser.peakBufferedBytes) bytes (bound \(bound))")
        }
        return out
    }

    /// Events with error details dropped (they name positions), for comparison.
    static func normalized(_ events: [XMLStreamParser.Event]) -> [XMLStreamParser.Event] {
        events.map { if case .error(let e) = $0 { .error(XMLStreamError(e.reason, "")) } else { $0 } }
    }

    /// Checks the properties on one input.
    /// - Returns: whether it parsed without a refusal (such inputs join the corpus).
    @discardableResult
    public mutating func check(_ input: [UInt8]) throws(Finding) -> Bool {
        let whole = try events(input, chunks: [input.count])
        let chunks = (0..<16).map { _ in 1 + rng.below(64) }
        let chunked = try events(input, chunks: chunks)
        let sizeLimited: (XMLStreamParser.Event) -> Bool = {
            if case .error(let e) = $0 { e.reason == .markupTooLarge || e.reason == .stanzaTooLarge } else { false }
        }
        if !whole.contains(where: sizeLimited), !chunked.contains(where: sizeLimited),
            Self.normalized(whole) != Self.normalized(chunked)
        {
            throw Finding(input: input, description: "chunking \(chunks) changed the events")
        }
        for event in whole {
            switch event {
            case .error(let e): refused[e.reason, default: 0] += 1
            case .stanza(let stanza): try roundTrip(stanza, input)
            case .streamOpened, .streamClosed: break
            }
        }
        return !whole.contains { if case .error = $0 { true } else { false } }
    }

    /// Property 3: what the parser builds, the writer writes back identically.
    mutating func roundTrip(_ stanza: XMLElement, _ input: [UInt8]) throws(Finding) {
        stanzas += 1
        let reread = Self.reparse(stanza.bytes())
        guard reread == stanza else {
            throw Finding(input: input, description: "stanza changed on a round trip: \(stanza.serialized())")
        }
        if let m = MessageStanza(stanza), Self.reparse(m.bytes).flatMap(MessageStanza.init) != m {
            throw Finding(input: input, description: "message changed on a round trip: \(m)")
        }
    }

    static func reparse(_ bytes: [UInt8]) -> XMLElement? {
        let parser = XMLStreamParser()
        for case .stanza(let e) in parser.feed(StreamHeader.bytes(from: "x@y", to: nil) + bytes) { return e }
        return nil
    }

    /// Runs the corpus, then `iterations` mutants.
    public mutating func run(iterations: Int) throws(Finding) {
        for c in corpus { try check(c) }
        for _ in 0..<iterations {
            let input = mutate(corpus[rng.below(corpus.count)])
            if try check(input), corpus.count < 256, input.count < 16 * 1024, rng.below(4) == 0 { corpus.append(input) }
        }
    }
}
