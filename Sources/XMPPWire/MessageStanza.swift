/// A chat message stanza (`<message type='chat'>`, RFC 6121 §5; XEP-0174 "Exchanging Messages")
/// as plain text, with the body rules that make it arrive intact in libpurple (Pidgin, finch).
///
/// ## What libpurple does (Pidgin 2.x, `libpurple/protocols/bonjour/jabber.c`)
///
/// Sending, `bonjour_jabber_send_message()`: the UI's message is HTML. It calls
/// `purple_markup_html_to_xhtml(body, &xhtml, &plain)` (libpurple/util.c), whose plain output drops
/// the tags and resolves the entities (`&lt;` becomes `<`, `&amp;` becomes `&`, ...), and sends
/// ```
/// <message to='them' from='me' type='chat'>
///   <body>PLAIN, XML-escaped once</body>
///   <html xmlns='http://www.w3.org/1999/xhtml'><body><font>XHTML</font></body></html>
///   <x xmlns='jabber:x:event'><composing/></x>
/// </message>
/// ```
/// So "a<b & c" typed in finch arrives as `<body>a&lt;b &amp; c</body>`: after XML unescaping,
/// the `<body>` text is the user's plain text, with no HTML entities left in it.
///
/// Receiving, `_jabber_parse_and_write_message_to_ui()`: if the message has
/// `<html><body><font>`, the font element's serialized content (`get_xmlnode_contents()`:
/// `xmlnode_to_str`, the outer tag cut off; text stays XML-escaped, which HTML reads back as
/// the same characters) becomes the IM, wrapped in a `<font>` with iChat's attributes;
/// otherwise the `<body>` text, XML-unescaped (`xmlnode_get_data`), is handed to
/// `serv_got_im()`, which treats it as HTML. A plain body "a<b & c" alone would show as "a"
/// followed by a broken tag. (Child elements are matched by name only, in any namespace.)
///
/// ## Hearsay's rule
/// - **Out**: `<body>` carries the plain text, XML-escaped once (what every XMPP client reads),
///   and an `<html xmlns='http://www.w3.org/1999/xhtml'><body><font>` part carries the same text
///   XML-escaped (so HTML-escaped for libpurple), with line breaks as `<br/>`: exactly the shape
///   libpurple itself sends, so finch shows the text and clients that do not know this part
///   (it is not XEP-0071's namespace) ignore it.
/// - **In**: the text is the `<body>`'s character data, XML-unescaped once; HTML parts are
///   ignored, since libpurple's own body is already plain. A message with no `<body>` but an
///   `<html>` part (iChat sent some) yields the HTML part's character data, tags dropped.
///   A message with neither (a typing notification) is not a chat message.
public struct MessageStanza: Hashable, Sendable {
    /// The sender's instance name ("ann@host"), as the stanza says (not authenticated).
    public var from: String?
    /// The recipient's instance name.
    public var to: String?
    public var id: String?
    /// "chat" for what Hearsay sends; incoming messages of any type but "error" are read.
    public var type: String?
    /// The message as plain text (not HTML).
    public var body: String

    public init(from: String? = nil, to: String? = nil, id: String? = nil, type: String? = "chat", body: String) {
        self.from = from
        self.to = to
        self.id = id
        self.type = type
        self.body = body
    }

    /// Reads a chat message from a stanza; `nil` if it is not a `message` of the client
    /// namespace, is an error message, or has no text (typing notifications).
    public init?(_ element: XMLElement) {
        guard element.name == "message", element.namespace == XMPPNamespace.client || element.namespace == nil,
            element[attribute: "type"] != "error"
        else { return nil }
        if let body = element.child("body", namespace: element.namespace) {
            self.body = body.text
        } else if let html = element.child("html") {
            self.body = (html.child("body") ?? html).deepText
        } else {
            return nil
        }
        from = element[attribute: "from"]
        to = element[attribute: "to"]
        id = element[attribute: "id"]
        type = element[attribute: "type"]
    }

    /// The stanza, in the stream's default namespace (`jabber:client`), as libpurple sends one.
    public var element: XMLElement {
        var attributes: [XMLAttribute] = []
        if let to { attributes.append(XMLAttribute("to", to)) }
        if let from { attributes.append(XMLAttribute("from", from)) }
        if let type { attributes.append(XMLAttribute("type", type)) }
        if let id { attributes.append(XMLAttribute("id", id)) }
        let body = XMLElement("body", namespace: XMPPNamespace.client, children: [.text(self.body)])
        let font = XMLElement("font", namespace: XMPPNamespace.xhtml, children: Self.lines(self.body))
        let html = XMLElement(
            "html", namespace: XMPPNamespace.xhtml,
            children: [.element(XMLElement("body", namespace: XMPPNamespace.xhtml, children: [.element(font)]))])
        return XMLElement(
            "message", namespace: XMPPNamespace.client, attributes: attributes,
            children: [.element(body), .element(html)])
    }

    /// The stanza's bytes, to write on a stream whose default namespace is `jabber:client`.
    public var bytes: [UInt8] { element.bytes(defaultNamespace: XMPPNamespace.client) }

    /// The text as XHTML content: text nodes with `<br/>` for each line break (LF, CR LF or CR;
    /// libpurple turns its own `<br>` into a line break in the plain body and `<br/>` in the
    /// XHTML part).
    static func lines(_ text: String) -> [XMLNode] {
        var nodes: [XMLNode] = []
        var line = ""
        for c in text {
            if c == "\n" || c == "\r\n" || c == "\r" {
                if !line.isEmpty { nodes.append(.text(line)) }
                nodes.append(.element(XMLElement("br", namespace: XMPPNamespace.xhtml)))
                line = ""
            } else {
                line.append(c)
            }
        }
        if !line.isEmpty { nodes.append(.text(line)) }
        return nodes
    }
}
