import HearsayModel

/// A link-local XMPP user's DNS-SD record (XEP-0174 §3, service type `_presence._tcp`): what the
/// node reads when it browses the LAN for Pidgin/finch/Adium/iChat users, and what it publishes
/// for its own user so that they see a Hearsay user in their buddy list.
///
/// The instance name is `user@machine`: the XMPP identity, and exactly what the other side must
/// put in its stream header's `from`. The SRV port is the stream's TCP port. TXT keys (the XMPP
/// registrar's "Link-Local Messaging TXT Record Parameters"):
///
/// | key | meaning |
/// |-----|---------|
/// | `txtvers` | `1` |
/// | `1st`, `last`, `nick` | first name, last name, nickname |
/// | `status` | `avail`, `away` or `dnd` |
/// | `msg` | the status text |
/// | `port.p2pj` | the stream port: equal to the SRV port (libpurple ignores it, as the XEP asks) |
/// | `node`, `ver`, `hash` | entity capabilities (XEP-0115): the client and its feature hash |
/// | `jid`, `email` | other addresses of the user |
/// | `vc` | libpurple: voice/video capabilities (`!`: none) |
public struct LinkLocalPresence: Hashable, Sendable {
    public static let type = "_presence._tcp"
    /// The realm and protocol names the node's entries use for these users.
    public static let realm = "xmpp-ll"
    public static let protocolName = "xmpp"
    /// XEP-0174's default port; a client takes another if it is taken (read the SRV port).
    public static let defaultPort: UInt16 = 5298

    public var instance: String
    public var port: UInt16
    public var first: String
    public var last: String
    public var nick: String
    public var status: PresenceStatus
    public var message: String
    public var node: String
    public var ver: String
    public var jid: String

    public init(instance: String, port: UInt16, first: String = "", last: String = "", nick: String = "",
                status: PresenceStatus = .available, message: String = "", node: String = "", ver: String = "",
                jid: String = "") {
        self.instance = instance
        self.port = port
        self.first = first
        self.last = last
        self.nick = nick
        self.status = status
        self.message = message
        self.node = node
        self.ver = ver
        self.jid = jid
    }

    /// Reads a browsed record. A record without `txtvers` is taken (older clients omit it); one
    /// with another version, a port of 0, or an instance that is not `user@machine` is refused.
    public init(instance: String, port: UInt16, txt: [String: String]) throws(HearsayService.TXTError) {
        if let v = txt["txtvers"], v != "1" { throw .unsupported("txtvers=\(v)") }
        guard port != 0 else { throw .malformed("port") }
        guard let at = instance.firstIndex(of: "@"), at != instance.startIndex, instance.index(after: at) != instance.endIndex
        else { throw .malformed("instance \(instance)") }
        self.init(instance: instance, port: port, first: txt["1st"] ?? "", last: txt["last"] ?? "", nick: txt["nick"] ?? "",
                  status: Self.status(txt["status"]), message: txt["msg"] ?? "", node: txt["node"] ?? "",
                  ver: txt["ver"] ?? "", jid: txt["jid"] ?? "")
    }

    /// `avail`, `away`, `dnd` (anything else reads as available, as libpurple does).
    static func status(_ s: String?) -> PresenceStatus {
        switch s {
        case "away": .away
        case "dnd": .busy
        default: .available
        }
    }

    static func txtStatus(_ s: PresenceStatus) -> String {
        switch s {
        case .away, .offline: "away"
        case .busy: "dnd"
        case .available: "avail"
        }
    }

    /// The name to show, as XEP-0174 §3.3 suggests: the nickname, else first and last name,
    /// else the user part of the instance name.
    public var displayName: String {
        if !nick.isEmpty { return nick }
        let full = [first, last].filter { !$0.isEmpty }.joined(separator: " ")
        if !full.isEmpty { return full }
        return String(instance.prefix { $0 != "@" })
    }

    /// The TXT record to publish, in order (what finch publishes, plus `nick` and `msg`).
    public var txt: [(key: String, value: String)] {
        var t: [(key: String, value: String)] = [("txtvers", "1"), ("1st", first), ("last", last), ("port.p2pj", String(port)),
                                                 ("status", Self.txtStatus(status))]
        if !nick.isEmpty { t.append(("nick", nick)) }
        if !message.isEmpty { t.append(("msg", message)) }
        t += [("node", node), ("ver", ver), ("vc", "!")]
        return t
    }

    /// The presence entry an observing node publishes for this user (`publishForeign`):
    /// handle, status and text from the record, the address it resolved to, the stream port.
    /// Texts are cut to the entry's limits (on a character boundary).
    public func fill(_ e: inout PresenceEntry, address: HostAddress) {
        e.handle = Self.cut(displayName, PresenceEntry.Limits.handle)
        e.protocolName = Self.protocolName
        e.protocolVersion = 1
        e.addresses = [address]
        e.chatPort = port
        e.status = status
        e.statusText = Self.cut(message, PresenceEntry.Limits.statusText)
        e.capabilities = [.chat]
    }

    static func cut(_ s: String, _ maxBytes: Int) -> String {
        var s = s
        while s.utf8.count > maxBytes { s.removeLast() }
        return s
    }
}
