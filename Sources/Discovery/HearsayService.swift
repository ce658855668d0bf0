import HearsayModel

/// What a Hearsay node publishes over DNS-SD, and what a browsing node reads back.
///
/// Service type `_hearsay._udp`: the SRV port is the gossip port, whose protocol is SWIM over UDP
/// (TCP on the same port only carries sync conversations), and RFC 6763 §7 names a service
/// after its main transport. Instance: "handle on host" (Avahi may rename it on collision, so
/// it is never an identity). TXT (RFC 6763 §6):
///
/// | key | value |
/// |-----|-------|
/// | `txtvers` | `1`: the version of this TXT layout |
/// | `id` | the node id, base32 (26 characters): the identity; peers deduplicate by it |
/// | `pv` | the gossip wire protocol version (`1`) |
/// | `gossip` | the gossip port (UDP and TCP); equals the SRV port |
/// | `chat` | the native chat port (TCP, TLS), 0 when chat is not served |
/// | `realm` | `hearsay` |
public struct HearsayService: Hashable, Sendable {
    public static let type = "_hearsay._udp"
    public static let txtVersion = "1"
    public static let wireVersion = 1

    public var id: NodeID
    public var protocolVersion: Int
    public var gossipPort: UInt16
    public var chatPort: UInt16
    public var realm: String

    public init(id: NodeID, protocolVersion: Int = HearsayService.wireVersion, gossipPort: UInt16, chatPort: UInt16 = 0,
                realm: String = "hearsay") {
        self.id = id
        self.protocolVersion = protocolVersion
        self.gossipPort = gossipPort
        self.chatPort = chatPort
        self.realm = realm
    }

    /// The TXT record, in publication order.
    public var txt: [(key: String, value: String)] {
        [("txtvers", Self.txtVersion), ("id", id.base32), ("pv", String(protocolVersion)),
         ("gossip", String(gossipPort)), ("chat", String(chatPort)), ("realm", realm)]
    }

    /// Reads a browsed record's TXT. Unknown keys are ignored (later versions may add some).
    public init(txt: [String: String]) throws(TXTError) {
        guard let v = txt["txtvers"] else { throw .missing("txtvers") }
        guard v == Self.txtVersion else { throw .unsupported("txtvers=\(v)") }
        guard let idText = txt["id"] else { throw .missing("id") }
        guard let id = NodeID(idText) else { throw .malformed("id") }
        guard let pvText = txt["pv"], let pv = Int(pvText) else { throw .malformed("pv") }
        guard pv == Self.wireVersion else { throw .unsupported("pv=\(pv)") }
        guard let g = txt["gossip"].flatMap(UInt16.init), g != 0 else { throw .malformed("gossip") }
        let chat = txt["chat"].flatMap(UInt16.init) ?? 0
        self.init(id: id, protocolVersion: pv, gossipPort: g, chatPort: chat, realm: txt["realm"] ?? "hearsay")
    }

    /// Why a browsed TXT record was not taken.
    public enum TXTError: Error, Equatable, Sendable, CustomStringConvertible {
        case missing(String), malformed(String), unsupported(String)
        public var description: String {
            switch self {
            case .missing(let k): "TXT lacks \(k)"
            case .malformed(let k): "TXT \(k) is malformed"
            case .unsupported(let v): "TXT \(v) is not supported by this version"
            }
        }
        /// A short metric label.
        public var reason: String {
            switch self {
            case .missing: "txt_missing"
            case .malformed: "txt_malformed"
            case .unsupported: "txt_unsupported"
            }
        }
    }

    /// "handle on host", cut to DNS-SD's 63-byte instance label limit on a character boundary.
    public static func instanceName(handle: String, host: String) -> String {
        var name = "\(handle) on \(host)"
        while name.utf8.count > 63 { name.removeLast() }
        return name
    }
}
