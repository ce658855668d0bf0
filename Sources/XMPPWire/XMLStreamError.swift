/// Why the XML stream parser refused its input. After one, the parser accepts nothing more and the
/// stream is closed (by closing TCP: see `StreamMachine`).
public struct XMLStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        /// Not well-formed XML (Expat's own error), including bytes that are not UTF-8 and
        /// references to undefined entities.
        case malformed
        /// An XML declaration naming an encoding other than UTF-8 (RFC 6120 §11.6).
        case notUTF8 = "not-utf8"
        /// A document type declaration: the way to entity expansion ("billion laughs") and
        /// external entities, forbidden in XMPP (RFC 6120 §11.1).
        case doctype
        /// An entity declaration (only possible inside a DOCTYPE, refused first; a second line).
        case entityDeclaration = "entity-declaration"
        /// A comment or processing instruction (RFC 6120 §11.1 restricted XML).
        case restrictedXML = "restricted-xml"
        /// The root element is not `<stream:stream>` in the streams namespace.
        case notAStream = "not-a-stream"
        /// Elements nested deeper than `Limits.maxDepth`.
        case tooDeep = "too-deep"
        /// A stanza (or the stream header) above `Limits.maxStanzaBytes`, counting what the
        /// parser holds of it: a stanza that never ends ends here.
        case stanzaTooLarge = "stanza-too-large"
        /// One unfinished piece of markup (a tag with its attributes, ...) above
        /// `Limits.maxMarkupBytes`: a huge attribute ends here.
        case markupTooLarge = "markup-too-large"
    }

    public let reason: Reason
    public let detail: String

    public init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
