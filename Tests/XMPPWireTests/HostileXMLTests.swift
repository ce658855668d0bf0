import Testing
import XMPPWire

let streamOpen = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='eve@pc'>"

/// Hostile input: each case must end in exactly one `.error` with the expected reason, the parser
/// must never hold more than a limit plus one slice, and it must hold nothing once it refused.
@Suite struct HostileXMLTests {
    struct Outcome {
        var events: [XMLStreamParser.Event]
        var peak: Int
        var bufferedAfter: Int
        var reason: XMLStreamError.Reason? {
            if case .error(let e) = events.last { e.reason } else { nil }
        }
    }

    /// Feeds `prefix`, then `repeated` up to `times` times in chunks of `chunk` bytes, stopping at
    /// the first error; checks the bound on the way.
    func run(_ prefix: String, repeated: String = "", times: Int = 0, chunk: Int = 1000,
             limits: XMLStreamParser.Limits = .init()) -> Outcome {
        let parser = XMLStreamParser(limits: limits)
        var events = parser.feed(Array(prefix.utf8))
        let piece = Array(repeated.utf8)
        var pending: [UInt8] = []
        var n = 0
        while n < times, !parser.isFinished {
            pending += piece
            n += 1
            if pending.count >= chunk {
                events += parser.feed(pending)
                pending = []
            }
        }
        if !parser.isFinished, !pending.isEmpty { events += parser.feed(pending) }
        let bound = max(limits.maxStanzaBytes, limits.maxMarkupBytes) + XMLStreamParser.sliceBytes
        #expect(parser.peakBufferedBytes <= bound, "held \(parser.peakBufferedBytes) bytes")
        return Outcome(events: events, peak: parser.peakBufferedBytes, bufferedAfter: parser.bufferedBytes)
    }

    func expectRefused(
        _ o: Outcome, _ reason: XMLStreamError.Reason, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(o.reason == reason, "events: \(o.events)", sourceLocation: sourceLocation)
        let errors = o.events.filter { if case .error = $0 { true } else { false } }
        #expect(errors.count == 1, sourceLocation: sourceLocation)
        #expect(o.bufferedAfter == 0, sourceLocation: sourceLocation)
    }

    @Test func billionLaughs() {
        var doc = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        for i in 1...9 {
            doc += "<!ENTITY lol\(i) \"" + String(repeating: "&lol\(i == 1 ? "" : String(i - 1));", count: 10) + "\">"
        }
        doc += "]>" + streamOpen + "<message><body>&lol9;</body></message>"
        expectRefused(run(doc), .doctype)
    }

    @Test func externalEntity() {
        let doc = "<!DOCTYPE s [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>" + streamOpen
            + "<message><body>&xxe;</body></message>"
        expectRefused(run(doc), .doctype)
    }

    @Test func undefinedEntityWithoutADoctype() {
        expectRefused(run(streamOpen + "<message><body>&xxe;</body></message>"), .malformed)
    }

    @Test func doctypeAlone() {
        expectRefused(run("<!DOCTYPE stream:stream>" + streamOpen), .doctype)
    }

    @Test func commentsAndProcessingInstructions() {
        expectRefused(run(streamOpen + "<!-- hi -->"), .restrictedXML)
        expectRefused(run(streamOpen + "<message><?php x ?></message>"), .restrictedXML)
    }

    @Test func hugeAttribute() {
        // A 100 KB attribute value: refused while the tag is still open, at the markup limit.
        let o = run(streamOpen + "<message id='", repeated: String(repeating: "A", count: 100), times: 1000)
        expectRefused(o, .markupTooLarge)
        #expect(o.peak <= 16 * 1024 + XMLStreamParser.sliceBytes)
    }

    @Test func hugeAttributeInTheHeader() {
        let o = run("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' from='",
                    repeated: String(repeating: "B", count: 100), times: 1000)
        expectRefused(o, .markupTooLarge)
    }

    @Test func deepNesting() {
        expectRefused(run(streamOpen + "<message>", repeated: "<a>", times: 10_000), .tooDeep)
    }

    @Test func stanzaThatNeverEnds() {
        // Text that keeps coming inside one stanza: refused at the stanza limit.
        let o = run(streamOpen + "<message><body>", repeated: String(repeating: "x", count: 64), times: 100_000)
        expectRefused(o, .stanzaTooLarge)
        #expect(o.peak <= 64 * 1024 + XMLStreamParser.sliceBytes)
    }

    @Test func stanzaOfManySmallElementsThatNeverEnds() {
        expectRefused(run(streamOpen + "<message>", repeated: "<b/>", times: 100_000), .stanzaTooLarge)
    }

    @Test func smallerConfiguredLimits() {
        let limits = XMLStreamParser.Limits(maxDepth: 4, maxStanzaBytes: 1024, maxMarkupBytes: 256)
        let long = run(streamOpen + "<message><body>", repeated: "yy", times: 2000, chunk: 10, limits: limits)
        expectRefused(long, .stanzaTooLarge)
        expectRefused(run(streamOpen + "<message><a><b><c>", limits: limits), .tooDeep)
    }

    @Test func invalidUTF8() {
        let parser = XMLStreamParser()
        var events = parser.feed(Array(streamOpen.utf8))
        events += parser.feed(Array("<message><body>".utf8) + [0xC3, 0x28, 0xFF] + Array("</body></message>".utf8))
        guard case .error(let e) = events.last else { Issue.record("\(events)"); return }
        #expect(e.reason == .malformed)
    }

    @Test func declaredEncodingOtherThanUTF8() {
        expectRefused(run("<?xml version='1.0' encoding='ISO-8859-1'?>" + streamOpen), .notUTF8)
    }

    @Test func utf16ByteOrderMark() {
        let parser = XMLStreamParser()
        let events = parser.feed([0xFF, 0xFE] + Array(streamOpen.utf8))
        guard case .error(let e) = events.last else { Issue.record("\(events)"); return }
        #expect(e.reason == .malformed)
    }

    @Test func rootThatIsNotAStream() {
        expectRefused(run("<html xmlns='http://www.w3.org/1999/xhtml'>"), .notAStream)
        expectRefused(run("<stream xmlns='jabber:client'>"), .notAStream)
    }

    @Test func unboundPrefix() {
        expectRefused(run("<stream:stream xmlns='jabber:client'>"), .malformed)
    }

    @Test func afterAnErrorNothingIsParsed() {
        let parser = XMLStreamParser()
        _ = parser.feed(Array("<!DOCTYPE x>".utf8))
        #expect(parser.isFinished)
        #expect(parser.feed(Array(streamOpen.utf8)).isEmpty)
    }
}
