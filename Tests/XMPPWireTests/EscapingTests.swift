import Testing
import XMPPWire

/// Parses `stanza` inside a stream and returns the first stanza element.
func reparse(_ stanza: [UInt8]) -> XMLElement? {
    let parser = XMLStreamParser()
    let events = parser.feed(StreamHeader.bytes(from: "x@y", to: nil) + stanza)
    for case .stanza(let e) in events { return e }
    Issue.record("no stanza in \(events)")
    return nil
}

@Suite struct EscapingTests {
    static let texts = [
        "a<b & c", "a > b", "'quoted' \"double\"", "]]> end", "&amp; stays literal", "héllo wörld", "😀👩‍👩‍👧 emoji",
        "日本語のテキスト", "tab\there", "two\nlines", "cr\r\nlf", "", "  spaced  ",
    ]

    @Test(arguments: texts) func textSurvivesOurStanzaBothWays(text: String) throws {
        let m = MessageStanza(from: "ann@host", to: "bob@pc", id: "m1", body: text)
        let back = try #require(reparse(m.bytes).flatMap(MessageStanza.init))
        #expect(back == m)
    }

    @Test func aLessThanBAndCOnTheWire() {
        let m = MessageStanza(from: "ann@host", to: "bob@pc", body: "a<b & c")
        let xml = String(decoding: m.bytes, as: UTF8.self)
        #expect(xml == "<message to='bob@pc' from='ann@host' type='chat'><body>a&lt;b &amp; c</body>"
            + "<html xmlns='http://www.w3.org/1999/xhtml'><body><font>a&lt;b &amp; c</font></body></html></message>")
    }

    /// What libpurple's receiver does with our stanza (`_jabber_parse_and_write_message_to_ui`):
    /// takes the serialized content of `<html><body><font>` and renders it as HTML. Emulated here:
    /// the font's content re-serialized, then HTML entities decoded and `<br/>` read as a line.
    @Test(arguments: texts.filter { !$0.isEmpty && !$0.unicodeScalars.contains("\r") })
    func libpurpleWouldShowTheText(text: String) throws {
        let m = try #require(reparse(MessageStanza(body: text).bytes))
        let font = try #require(m.child("html")?.child("body")?.child("font"))
        var html = ""
        for c in font.children {
            switch c {
            case .text(let t):
                html += XMLElement("t", children: [.text(t)]).serialized(defaultNamespace: nil).dropFirst(3).dropLast(4)
            case .element(let e): html += e.name == "br" ? "<br/>" : "?"
            }
        }
        #expect(Self.renderHTML(html) == text)
    }

    /// A tiny HTML renderer for the test above: `<br/>` is a line break, entities are decoded.
    static func renderHTML(_ html: String) -> String {
        html.replacing("<br/>", with: "\n").replacing("&lt;", with: "<").replacing("&gt;", with: ">")
            .replacing("&apos;", with: "'").replacing("&quot;", with: "\"").replacing("&amp;", with: "&")
    }

    /// The bytes libpurple's `bonjour_jabber_send_message` writes when finch sends "a<b & c" (finch
    /// escapes the typed text into HTML, `purple_markup_html_to_xhtml` gives the plain and XHTML
    /// versions, `xmlnode_to_str` writes them with double quotes).
    @Test func libpurpleMessageIn() throws {
        let wire = "<message to=\"ann@host\" from=\"bob@pc\" type=\"chat\"><body>a&lt;b &amp; c</body>"
            + "<html xmlns=\"http://www.w3.org/1999/xhtml\"><body><font>a&lt;b &amp; c</font></body></html>"
            + "<x xmlns=\"jabber:x:event\"><composing/></x></message>"
        let m = try #require(reparse(Array(wire.utf8)).flatMap(MessageStanza.init))
        #expect(m.body == "a<b & c")
        #expect(m.from == "bob@pc" && m.to == "ann@host" && m.type == "chat")
    }

    @Test func nonASCIIFromLibpurple() throws {
        let wire = "<message type='chat'><body>Grüße 😀 &#x4E2D;</body></message>"
        #expect(try #require(reparse(Array(wire.utf8)).flatMap(MessageStanza.init)).body == "Grüße 😀 中")
    }

    @Test func htmlOnlyMessageFallsBackToItsText() throws {
        let wire = "<message type='chat'><html xmlns='http://www.w3.org/1999/xhtml'><body ichatballooncolor='#7BB5EE'>"
            + "<font face='Helvetica' ABSZ='12'>hi <b>there</b> &amp; you</font></body></html></message>"
        #expect(try #require(reparse(Array(wire.utf8)).flatMap(MessageStanza.init)).body == "hi there & you")
    }

    @Test func notChatMessages() {
        let typing = "<message type='chat'><x xmlns='jabber:x:event'><composing/><id>1</id></x></message>"
        #expect(reparse(Array(typing.utf8)).flatMap(MessageStanza.init) == nil)
        let error = "<message type='error'><body>x</body></message>"
        #expect(reparse(Array(error.utf8)).flatMap(MessageStanza.init) == nil)
        let presence = "<presence/>"
        #expect(reparse(Array(presence.utf8)).flatMap(MessageStanza.init) == nil)
    }

    @Test func attributesAreEscaped() throws {
        let e = XMLElement("message", namespace: XMPPNamespace.client,
                           attributes: [XMLAttribute("id", "a'b\"c<d>&e\tf\ng")], children: [])
        let xml = e.serialized()
        #expect(xml == "<message id='a&apos;b&quot;c&lt;d&gt;&amp;e&#9;f&#10;g'/>")
        #expect(try #require(reparse(Array(xml.utf8)))[attribute: "id"] == "a'b\"c<d>&e\tf\ng")
    }

    @Test func charactersXMLCannotCarryBecomeReplacementCharacters() throws {
        let m = MessageStanza(body: "bell\u{7} nul\u{0} esc\u{1B} ok")
        let back = try #require(reparse(m.bytes).flatMap(MessageStanza.init))
        #expect(back.body == "bell\u{FFFD} nul\u{FFFD} esc\u{FFFD} ok")
    }

    @Test func namespacesAreDeclaredWhereTheyChange() {
        let e = XMLElement("iq", namespace: XMPPNamespace.client, children: [
            .element(XMLElement("query", namespace: "jabber:iq:version", children: [
                .element(XMLElement("name", namespace: "jabber:iq:version", children: [.text("Hearsay")])),
            ])),
        ])
        #expect(e.serialized() == "<iq><query xmlns='jabber:iq:version'><name>Hearsay</name></query></iq>")
        let lang = XMLElement("body", namespace: XMPPNamespace.client,
                              attributes: [XMLAttribute("lang", "fr", namespace: XMPPNamespace.xml)])
        #expect(lang.serialized() == "<body xml:lang='fr'/>")
        #expect(reparse(Array(lang.serialized().utf8))?.attributes.first?.namespace == XMPPNamespace.xml)
    }
}
