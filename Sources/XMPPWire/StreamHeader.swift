/// The stream's opening and closing tags as Hearsay writes them (RFC 6120 §4.2, §4.4;
/// XEP-0174 "Establishing XML Streams").
public enum StreamHeader {
    /// Our stream header, with the XML declaration libpurple also sends:
    /// `<?xml version='1.0' encoding='UTF-8'?><stream:stream xmlns='jabber:client'
    /// xmlns:stream='http://etherx.jabber.org/streams' from='ann@host' to='bob@host'>`.
    ///
    /// No `version`: without it neither side negotiates features (no TLS or SASL, as finch, which
    /// never sends `<stream:features>`; XEP-0174 asks for `version='1.0'` only to negotiate them).
    /// - Parameters:
    ///   - from: exactly the instance name we publish (finch drops the stream otherwise).
    ///   - to: the peer's instance name, if known; no `to` otherwise.
    public static func bytes(from: String, to: String?) -> [UInt8] {
        var s = "<?xml version='1.0' encoding='UTF-8'?><stream:stream xmlns='\(XMPPNamespace.client)'"
        s += " xmlns:stream='\(XMPPNamespace.streams)' from='"
        XMLEscape.attribute(from, into: &s)
        s += "'"
        if let to {
            s += " to='"
            XMLEscape.attribute(to, into: &s)
            s += "'"
        }
        s += ">"
        return Array(s.utf8)
    }

    /// The end of our stream.
    public static let end: [UInt8] = Array("</stream:stream>".utf8)
}
