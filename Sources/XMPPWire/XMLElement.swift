/// Namespaces of the link-local XMPP stream (RFC 6120 §4.8, XEP-0174).
public enum XMPPNamespace {
    /// The stream element's namespace (`stream:` prefix).
    public static let streams = "http://etherx.jabber.org/streams"
    /// The default namespace of client-to-client stanzas.
    public static let client = "jabber:client"
    /// The namespace of `xml:lang` and friends, bound to the `xml` prefix by XML itself.
    public static let xml = "http://www.w3.org/XML/1998/namespace"
    /// XHTML, the namespace of libpurple's `<html>` message part (see `MessageStanza`).
    public static let xhtml = "http://www.w3.org/1999/xhtml"
    /// XHTML-IM (XEP-0071), the standard wrapper of an XHTML message part.
    public static let xhtmlIM = "http://jabber.org/protocol/xhtml-im"
}

/// An attribute: a local name, its namespace (`nil` for an unprefixed attribute, the usual
/// case) and its value, unescaped.
public struct XMLAttribute: Hashable, Sendable {
    public var name: String
    public var namespace: String?
    public var value: String

    public init(_ name: String, _ value: String, namespace: String? = nil) {
        self.name = name
        self.value = value
        self.namespace = namespace
    }
}

/// A child of an element: another element, or character data (unescaped).
public enum XMLNode: Hashable, Sendable {
    case element(XMLElement)
    case text(String)
}

/// One element of a stanza, as the parser builds it and as stanzas are written: a local name in a
/// namespace, attributes in document order, children. Names are namespace-resolved (the parser
/// runs Expat in namespace mode), so `<stream:stream>` is `stream` in `XMPPNamespace.streams`,
/// whatever prefix the peer chose.
public struct XMLElement: Hashable, Sendable {
    public var name: String
    public var namespace: String?
    public var attributes: [XMLAttribute]
    public var children: [XMLNode]

    public init(_ name: String, namespace: String? = nil, attributes: [XMLAttribute] = [], children: [XMLNode] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }

    /// The value of the unprefixed attribute `name`, if present.
    public subscript(attribute name: String) -> String? {
        attributes.first { $0.name == name && $0.namespace == nil }?.value
    }

    /// The child elements, in order.
    public var elements: [XMLElement] {
        children.compactMap { if case .element(let e) = $0 { e } else { nil } }
    }

    /// The first child element called `name`, in `namespace` if one is given (any namespace
    /// otherwise).
    public func child(_ name: String, namespace: String? = nil) -> XMLElement? {
        elements.first { $0.name == name && (namespace == nil || $0.namespace == namespace) }
    }

    /// The element's own character data (direct text children), concatenated.
    public var text: String {
        children.reduce(into: "") { if case .text(let t) = $1 { $0 += t } }
    }

    /// All character data inside the element, at any depth, in document order.
    public var deepText: String {
        var out = ""
        func walk(_ e: XMLElement) {
            for c in e.children {
                switch c {
                case .text(let t): out += t
                case .element(let sub): walk(sub)
                }
            }
        }
        walk(self)
        return out
    }

    /// The element as XML text.
    /// - Parameter defaultNamespace: the default namespace in scope where it is written: for a
    ///   stanza, the stream's `jabber:client`. An element in another namespace gets an `xmlns`.
    public func serialized(defaultNamespace: String? = XMPPNamespace.client) -> String {
        var out = ""
        write(into: &out, defaultNamespace: defaultNamespace)
        return out
    }

    /// The element as UTF-8 bytes (see `serialized(defaultNamespace:)`).
    public func bytes(defaultNamespace: String? = XMPPNamespace.client) -> [UInt8] {
        Array(serialized(defaultNamespace: defaultNamespace).utf8)
    }

    func write(into out: inout String, defaultNamespace: String?) {
        out += "<" + name
        if namespace != defaultNamespace {
            out += " xmlns='"
            XMLEscape.attribute(namespace ?? "", into: &out)
            out += "'"
        }
        var declared = 0
        for a in attributes {
            out += " "
            switch a.namespace {
            case nil: break
            case XMPPNamespace.xml?: out += "xml:"
            case let ns?:
                // A prefix of our own for any other namespaced attribute (rare in XMPP).
                declared += 1
                out += "xmlns:a\(declared)='"
                XMLEscape.attribute(ns, into: &out)
                out += "' a\(declared):"
            }
            out += a.name + "='"
            XMLEscape.attribute(a.value, into: &out)
            out += "'"
        }
        if children.isEmpty {
            out += "/>"
            return
        }
        out += ">"
        for c in children {
            switch c {
            case .text(let t): XMLEscape.text(t, into: &out)
            case .element(let e): e.write(into: &out, defaultNamespace: namespace)
            }
        }
        out += "</" + name + ">"
    }
}
