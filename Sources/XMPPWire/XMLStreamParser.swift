import CExpat

/// The incremental XML parser of one XMPP stream, over Expat (a push parser: it takes bytes as
/// they come and reports what they complete; Docs/decisions/0009-expat-for-xmpp-streams.md).
///
/// `feed(_:)` takes the stream's bytes in chunks of any size, split anywhere (inside a tag, a
/// character reference or a UTF-8 sequence), and returns what they complete: the stream header
/// (`<stream:stream ...>`, RFC 6120 §4.2), each top-level element under it (a stanza, or
/// `<stream:features>` / `<stream:error>`) as a small tree, and the stream's end. The same bytes
/// give the same events however they are split.
///
/// Hostile input is refused with a bounded footprint (`Limits`): no DOCTYPE (so no entity
/// expansion, internal or external), no comments or processing instructions, UTF-8 only, a
/// maximum depth, a maximum size for one stanza and for one unfinished tag. The parser holds at
/// most a limit plus one slice (`sliceBytes`) of the peer's input at any time (`bufferedBytes`).
/// The first refusal is an `.error` event; after it, or after the stream's end, the parser
/// frees Expat and ignores further input.
///
/// A reference type because it owns the C parser; use it from one thread (the stream's owner).
public final class XMLStreamParser {
    /// Bounds on what the peer can make the parser hold.
    public struct Limits: Hashable, Sendable {
        /// Deepest element nesting, counting `<stream:stream>` as 1 and a stanza as 2.
        public var maxDepth: Int
        /// Largest stanza: the bytes of its names, attribute values and text (unescaped) plus
        /// what Expat holds of its unfinished part. Also bounds the stream header.
        public var maxStanzaBytes: Int
        /// Largest piece of unfinished markup Expat may hold: one tag with all its attributes.
        public var maxMarkupBytes: Int

        /// - Parameters:
        ///   - maxDepth: 32: a chat message with an XHTML part nests 5 deep.
        ///   - maxStanzaBytes: 64 KiB: eight times the native chat's largest text (8 KiB), with
        ///     room for libpurple's XHTML copy of the body.
        ///   - maxMarkupBytes: 16 KiB: XMPP attributes are ids and addresses, tens of bytes.
        public init(maxDepth: Int = 32, maxStanzaBytes: Int = 64 * 1024, maxMarkupBytes: Int = 16 * 1024) {
            self.maxDepth = maxDepth
            self.maxStanzaBytes = maxStanzaBytes
            self.maxMarkupBytes = maxMarkupBytes
        }
    }

    /// What a chunk of input completed.
    public enum Event: Hashable, Sendable {
        /// The peer's stream header: the `stream` element with its attributes, no children.
        case streamOpened(XMLElement)
        /// A complete top-level element of the stream (a stanza, `<stream:features>`, ...).
        case stanza(XMLElement)
        /// `</stream:stream>`: the peer ended its stream.
        case streamClosed
        /// The input was refused; nothing more will be parsed.
        case error(XMLStreamError)
    }

    /// Input is handed to Expat in slices of at most this many bytes, and the limits are checked
    /// between slices: the most the parser can hold beyond a limit.
    public static let sliceBytes = 4096

    public let limits: Limits
    /// The stream's header, once parsed.
    public private(set) var header: XMLElement?
    /// After the stream's end or an error: input is ignored.
    public private(set) var isFinished = false
    /// Bytes of the peer's input the parser holds now: Expat's unparsed remainder plus the
    /// stanza being built.
    public var bufferedBytes: Int { (fed - consumed) + stanzaBytes }
    /// The largest `bufferedBytes` seen after a slice (counting, for the slice that broke a limit,
    /// all of it).
    public private(set) var peakBufferedBytes = 0

    private var parser: XML_Parser?
    private var events: [Event] = []
    private var failure: XMLStreamError?
    private var ended = false
    /// Bytes handed to Expat, and the end of the last event it reported (absolute offsets).
    private var fed = 0
    private var consumed = 0
    /// Element nesting now (1 inside `<stream:stream>`).
    private var depth = 0
    /// The stanza being built: its root first, the innermost open element last.
    private var stack: [XMLElement] = []
    /// Character data of the innermost open element not yet added as a text node.
    private var text: [UInt8] = []
    private var stanzaBytes = 0

    /// Expat reports names as "namespace-URI<separator>local-name".
    private static let separator = CChar(UInt8(ascii: " "))

    public init(limits: Limits = Limits()) {
        self.limits = limits
        // UTF-8 whatever the document says; a declaration naming another encoding is refused.
        parser = XML_ParserCreateNS("UTF-8", Self.separator)
        guard let parser else { fatalError("XML_ParserCreateNS: out of memory") }
        XML_SetUserData(parser, Unmanaged.passUnretained(self).toOpaque())
        // Every stanza is reported as soon as its last byte is fed (Expat >= 2.6 could wait).
        hearsay_expat_disable_reparse_deferral(parser)
        // Second line behind the DOCTYPE refusal (Expat >= 2.4.0): amplification stays below 2x.
        _ = XML_SetBillionLaughsAttackProtectionMaximumAmplification(parser, 2)
        _ = XML_SetBillionLaughsAttackProtectionActivationThreshold(parser, 64 * 1024)
        XML_SetElementHandler(
            parser,
            { ud, name, atts in XMLStreamParser.of(ud).startElement(name, atts) },
            { ud, name in XMLStreamParser.of(ud).endElement(name) })
        XML_SetCharacterDataHandler(parser) { ud, s, len in XMLStreamParser.of(ud).characters(s, Int(len)) }
        XML_SetXmlDeclHandler(parser) { ud, _, encoding, _ in XMLStreamParser.of(ud).xmlDeclaration(encoding) }
        XML_SetStartDoctypeDeclHandler(parser) { ud, _, _, _, _ in
            XMLStreamParser.of(ud).refuse(XMLStreamError(.doctype, "a DOCTYPE is not allowed in an XMPP stream"))
        }
        XML_SetEntityDeclHandler(parser) { ud, _, _, _, _, _, _, _, _ in
            XMLStreamParser.of(ud).refuse(XMLStreamError(.entityDeclaration, "entity declarations are not allowed"))
        }
        XML_SetCommentHandler(parser) { ud, _ in
            XMLStreamParser.of(ud).refuse(XMLStreamError(.restrictedXML, "a comment"))
        }
        XML_SetProcessingInstructionHandler(parser) { ud, _, _ in
            XMLStreamParser.of(ud).refuse(XMLStreamError(.restrictedXML, "a processing instruction"))
        }
        // Everything else (whitespace before the root, ...) only moves the consumed mark.
        XML_SetDefaultHandlerExpand(parser) { ud, _, _ in XMLStreamParser.of(ud).markConsumed() }
    }

    deinit {
        if let parser { XML_ParserFree(parser) }
    }

    /// Parses the next bytes of the stream.
    /// - Returns: what they complete, in order; an `.error` is the last event ever returned.
    public func feed(_ bytes: some Collection<UInt8>) -> [Event] {
        guard !isFinished else { return [] }
        if bytes.withContiguousStorageIfAvailable({ feed(buffer: $0) }) == nil {
            Array(bytes).withUnsafeBufferPointer { feed(buffer: $0) }
        }
        defer { events.removeAll() }
        return events
    }

    private func feed(buffer: UnsafeBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count, let parser, !isFinished {
            let n = min(Self.sliceBytes, buffer.count - offset)
            let status = (base + offset).withMemoryRebound(to: CChar.self, capacity: n) {
                XML_Parse(parser, $0, Int32(n), 0)
            }
            fed += n
            offset += n
            peakBufferedBytes = max(peakBufferedBytes, bufferedBytes)
            if ended {
                finish()
            } else if status == XML_STATUS_ERROR {
                let code = XML_GetErrorCode(parser)
                let line = XML_GetCurrentLineNumber(parser)
                fail(failure ?? XMLStreamError(.malformed, "\(String(cString: XML_ErrorString(code))) (line \(line))"))
            } else {
                checkBuffered()
            }
        }
    }

    /// The limits that Expat's unparsed remainder can break, checked between slices.
    private func checkBuffered() {
        let pending = fed - consumed
        if pending > limits.maxMarkupBytes {
            fail(XMLStreamError(.markupTooLarge, "an unfinished tag of over \(limits.maxMarkupBytes) bytes"))
        } else if pending + stanzaBytes > limits.maxStanzaBytes {
            fail(XMLStreamError(.stanzaTooLarge, "a stanza of over \(limits.maxStanzaBytes) bytes"))
        }
    }

    private func fail(_ error: XMLStreamError) {
        events.append(.error(error))
        finish()
    }

    /// Frees Expat and what was built: a finished parser holds nothing of the peer's input.
    private func finish() {
        isFinished = true
        stack = []
        text = []
        stanzaBytes = 0
        consumed = fed
        if let parser { XML_ParserFree(parser) }
        parser = nil
    }

    // MARK: Expat callbacks (run inside XML_Parse, on the caller's thread)

    private static func of(_ userData: UnsafeMutableRawPointer?) -> XMLStreamParser {
        Unmanaged<XMLStreamParser>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Stops Expat with `error` as the reason (the first one wins).
    private func refuse(_ error: XMLStreamError) {
        if failure == nil { failure = error }
        if let parser { XML_StopParser(parser, 0) }
    }

    /// Callbacks may still come after a stop: they are ignored.
    private var stopped: Bool { failure != nil || ended }

    private func markConsumed() {
        guard let parser else { return }
        let index = XML_GetCurrentByteIndex(parser)
        if index >= 0 { consumed = max(consumed, Int(index) + Int(XML_GetCurrentByteCount(parser))) }
    }

    private func xmlDeclaration(_ encoding: UnsafePointer<CChar>?) {
        markConsumed()
        guard let encoding else { return }
        let name = String(cString: encoding)
        if !["utf-8", "utf8"].contains(name.lowercased()) {
            refuse(XMLStreamError(.notUTF8, "the stream declares encoding \(name)"))
        }
    }

    private func startElement(_ name: UnsafePointer<CChar>?, _ atts: UnsafeMutablePointer<UnsafePointer<CChar>?>?) {
        markConsumed()
        guard !stopped, let name else { return }
        depth += 1
        guard depth <= limits.maxDepth else {
            return refuse(XMLStreamError(.tooDeep, "elements nested over \(limits.maxDepth) deep"))
        }
        let (local, namespace) = Self.split(String(cString: name))
        var element = XMLElement(local, namespace: namespace)
        var size = Self.overhead + local.utf8.count + (namespace?.utf8.count ?? 0)
        var i = 0
        while let atts, let key = atts[i], let value = atts[i + 1] {
            let (attrName, attrNamespace) = Self.split(String(cString: key))
            let attr = XMLAttribute(attrName, String(cString: value), namespace: attrNamespace)
            size += attr.name.utf8.count + attr.value.utf8.count + (attrNamespace?.utf8.count ?? 0)
            element.attributes.append(attr)
            i += 2
        }
        switch depth {
        case 1:
            guard local == "stream", namespace == XMPPNamespace.streams else {
                return refuse(XMLStreamError(.notAStream, "the root element is {\(namespace ?? "")}\(local)"))
            }
            header = element
            events.append(.streamOpened(element))
        case 2:
            stack = [element]
            stanzaBytes = size
        default:
            flushText()
            stack.append(element)
            stanzaBytes += size
        }
        checkStanzaSize()
    }

    private func endElement(_ name: UnsafePointer<CChar>?) {
        markConsumed()
        guard !stopped else { return }
        defer { depth -= 1 }
        switch depth {
        case 1:
            events.append(.streamClosed)
            ended = true
            if let parser { XML_StopParser(parser, 0) }
        case 2:
            flushText()
            if let stanza = stack.popLast() { events.append(.stanza(stanza)) }
            stanzaBytes = 0
        default:
            flushText()
            if let done = stack.popLast() { stack[stack.count - 1].children.append(.element(done)) }
        }
    }

    private func characters(_ s: UnsafePointer<CChar>?, _ count: Int) {
        markConsumed()
        // Text directly under <stream:stream> (whitespace keep-alives) is dropped.
        guard !stopped, depth >= 2, let s, count > 0 else { return }
        s.withMemoryRebound(to: UInt8.self, capacity: count) {
            text.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
        }
        stanzaBytes += count
        checkStanzaSize()
    }

    /// Adds the pending character data to the innermost open element (one node per run of text,
    /// however many callbacks Expat split it into).
    private func flushText() {
        guard !text.isEmpty, !stack.isEmpty else { return }
        stack[stack.count - 1].children.append(.text(String(decoding: text, as: UTF8.self)))
        text.removeAll(keepingCapacity: true)
    }

    private func checkStanzaSize() {
        if stanzaBytes > limits.maxStanzaBytes {
            refuse(XMLStreamError(.stanzaTooLarge, "a stanza of over \(limits.maxStanzaBytes) bytes"))
        }
    }

    /// What one element costs beyond its names and values (an estimate of the tree's overhead).
    private static let overhead = 32

    /// "uri local" → (local, uri); "local" → (local, nil). The URI may contain the separator,
    /// a local name cannot.
    private static func split(_ qualified: String) -> (String, String?) {
        guard let i = qualified.utf8.lastIndex(of: UInt8(ascii: " ")) else { return (qualified, nil) }
        return (String(qualified[qualified.index(after: i)...]), String(qualified[..<i]))
    }
}
