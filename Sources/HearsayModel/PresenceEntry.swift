/// One row of the replicated IM database: who a user is, where to reach them, and their status.
///
/// A native entry describes the node that signs it. A foreign entry (`foreignName` set) describes
/// a user of another realm — a link-local XMPP buddy, say — observed on its LAN by the signing
/// node, which is then the entry's origin. Either way only the holder of `publicKey` can produce
/// a valid entry under its id (see `SignedEntry`).
public struct PresenceEntry: Hashable, Sendable {
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The owner left the network gracefully (native entries).
        public static let left = Flags(rawValue: 1 << 1)
        /// The owner withdrew this entry (foreign entries whose user went away).
        public static let retracted = Flags(rawValue: 1 << 2)
        static let known: Flags = [.left, .retracted]
    }

    /// Field limits. Filled to the brim they would exceed `encodedSize`: `SignedEntry.sign` and
    /// `decode` enforce that total separately.
    public enum Limits {
        public static let handle = 48
        public static let realm = 24
        public static let protocolName = 24
        public static let statusText = 96
        public static let foreignName = 96
        public static let addresses = 4
        /// A signed entry on the wire, all included. Several fit in one 1,400-byte datagram.
        /// (400 in entry format 1; format 2 added the 32-byte key-agreement key.)
        public static let encodedSize = 432
    }

    /// The owner's Ed25519 public key (32 bytes).
    public var publicKey: [UInt8]
    /// The owner's X25519 key-agreement key (32 bytes), derived from its identity: members
    /// authenticate datagrams to each other with keys agreed from it (`PairKey`). Filled in by
    /// `SignedEntry.sign`.
    public var agreementKey: [UInt8] = []
    /// For a foreign-realm user: their name in that realm (e.g. `alice@laptop`). `nil`: native.
    public var foreignName: String?
    /// Display name.
    public var handle: String
    /// The realm the user lives in: `hearsay`, `xmpp-ll`, ...
    public var realm: String
    /// The protocol their realm speaks, and its version.
    public var protocolName: String
    public var protocolVersion: UInt16
    /// Addresses the user is reachable at (IPv4 and IPv6).
    public var addresses: [HostAddress]
    /// UDP/TCP port of the gossip endpoint (0 for foreign users).
    public var gossipPort: UInt16
    /// TCP port of the chat endpoint.
    public var chatPort: UInt16
    public var status: PresenceStatus
    public var statusText: String
    public var capabilities: Capabilities
    public var version: EntryVersion
    public var flags: Flags

    public init(
        publicKey: [UInt8], foreignName: String? = nil, handle: String, realm: String = "hearsay",
        protocolName: String = "hearsay", protocolVersion: UInt16 = 1, addresses: [HostAddress],
        gossipPort: UInt16, chatPort: UInt16, status: PresenceStatus = .available, statusText: String = "",
        capabilities: Capabilities = [.chat], version: EntryVersion, flags: Flags = []
    ) {
        self.publicKey = publicKey
        self.foreignName = foreignName
        self.handle = handle
        self.realm = realm
        self.protocolName = protocolName
        self.protocolVersion = protocolVersion
        self.addresses = addresses
        self.gossipPort = gossipPort
        self.chatPort = chatPort
        self.status = status
        self.statusText = statusText
        self.capabilities = capabilities
        self.version = version
        self.flags = flags
    }

    public var isForeign: Bool { foreignName != nil }

    /// The node that owns (signs) this entry.
    public var owner: NodeID { NodeID(publicKey: publicKey) }

    /// The entry's id: the owner's id for native entries, derived from owner, realm and name otherwise.
    public var id: NodeID {
        if let name = foreignName { return NodeID(foreignUser: name, realm: realm, owner: owner) }
        return owner
    }

    /// The gossip endpoint: the first address with the gossip port.
    public var gossipAddress: PeerAddress? {
        guard gossipPort != 0, let a = addresses.first else { return nil }
        return PeerAddress(host: a, port: gossipPort)
    }
}

/// Why an entry could not be built or signed, with what to change.
public struct EntryError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
