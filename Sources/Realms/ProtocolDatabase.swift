import HearsayModel

/// One realm and the protocol its users speak: what a node needs to reach a peer of that realm.
public struct RealmProtocol: Codable, Hashable, Sendable {
    /// The realm named in presence entries (`PresenceEntry.realm`).
    public var realm: String
    /// The protocol named in presence entries (`PresenceEntry.protocolName`), and its version.
    public var protocolName: String
    public var version: Int
    /// How a session is carried.
    public var transport: String
    /// The port used when an entry names none.
    public var defaultPort: UInt16
    /// How this realm's users come to be in the table.
    public var discovery: String
    /// What the protocol guarantees about who is on the other end and who can read.
    public var security: String
    /// The adapter (code) that speaks it.
    public var adapter: String

    public init(realm: String, protocolName: String, version: Int, transport: String, defaultPort: UInt16,
                discovery: String, security: String, adapter: String) {
        self.realm = realm
        self.protocolName = protocolName
        self.version = version
        self.transport = transport
        self.defaultPort = defaultPort
        self.discovery = discovery
        self.security = security
        self.adapter = adapter
    }

    /// Hearsay's own realm: direct TLS 1.3 sessions between nodes, each certificate bound to the
    /// node's identity key (issue 5; Docs/protocols/native-wire.md).
    public static let native = RealmProtocol(
        realm: "hearsay", protocolName: "hearsay", version: 1, transport: "tcp, tls 1.3", defaultPort: 7947,
        discovery: "gossip: each node publishes its own signed entry",
        security: "encrypted; peer authenticated by its gossiped identity key", adapter: "NativeSession")
}

extension RealmProtocol {
    /// Serverless link-local XMPP (XEP-0174), as Pidgin/finch "Bonjour" accounts, Adium, Messages
    /// and Gajim speak it (issue 6): XML streams over TCP, found through `_presence._tcp`.
    public static let linkLocalXMPP = RealmProtocol(
        realm: "xmpp-ll", protocolName: "xmpp", version: 1, transport: "tcp, xml", defaultPort: 5298,
        discovery: "mdns/dns-sd _presence._tcp, observed and gossiped by the nodes on the user's lan",
        security: "unencrypted, unauthenticated (XEP-0174): anyone on the lan can read or impersonate",
        adapter: "XMPPEndpoint")
}

/// Where and how to open a session with a peer.
public struct Route: Hashable, Sendable {
    public var protocolEntry: RealmProtocol
    public var address: PeerAddress
}

/// Why a peer cannot be reached, with what to do.
public struct RouteError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
}

/// The node's local database of realms and their protocols. The native realm is built in;
/// foreign realms (link-local XMPP next) register theirs the same way.
public struct ProtocolDatabase: Sendable {
    public private(set) var entries: [String: RealmProtocol] = [:]

    public init(_ protocols: [RealmProtocol] = [.native]) {
        for p in protocols { register(p) }
    }

    /// Adds or replaces the protocol of `p.realm`.
    public mutating func register(_ p: RealmProtocol) { entries[p.realm] = p }

    public func lookup(realm: String) -> RealmProtocol? { entries[realm] }

    /// Sorted by realm.
    public var all: [RealmProtocol] { entries.values.sorted { $0.realm < $1.realm } }

    /// The step between the table and a connection: the entry's realm, that realm's protocol,
    /// the entry's current address and chat port.
    public func route(to entry: PresenceEntry) throws(RouteError) -> Route {
        guard let p = entries[entry.realm] else {
            throw RouteError(description: "\(entry.handle) is in realm \(entry.realm), which this node does not speak "
                             + "(known: \(all.map(\.realm).joined(separator: ", ")))")
        }
        guard entry.protocolName == p.protocolName else {
            throw RouteError(description: "\(entry.handle) speaks \(entry.protocolName)/\(entry.protocolVersion), "
                             + "not \(p.protocolName) as realm \(p.realm) should")
        }
        guard let host = entry.addresses.first else {
            throw RouteError(description: "\(entry.handle) publishes no address")
        }
        guard entry.chatPort != 0 else {
            throw RouteError(description: "\(entry.handle) does not accept chat sessions (no chat port in its entry)")
        }
        return Route(protocolEntry: p, address: PeerAddress(host: host, port: entry.chatPort))
    }
}
