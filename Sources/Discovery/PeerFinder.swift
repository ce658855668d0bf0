import HearsayModel

/// What discovery asks of gossip.
public enum PeerFinderAction: Hashable, Sendable {
    /// A node's record resolved to an address not seen before: join it (gossip ignores this if
    /// the node is already a live member).
    case join(PeerAddress, NodeID)
    /// The last record of a node went away: probe it soon. Liveness stays gossip's decision: a
    /// crashed node's record lingers for minutes, and a record can vanish while the node lives.
    case probeSoon(NodeID)
}

/// Turns browse results into join candidates, one node however many interfaces and address
/// families it is seen on (deduplicated by the node id of its TXT record, never by instance name).
/// Sans-IO: the Avahi shell feeds it events, the node carries out the actions.
public struct PeerFinder: Sendable {
    public let me: NodeID
    public var filter: InterfaceFilter
    /// Each live record, and the node and address it stands for.
    public private(set) var records: [ServiceKey: (id: NodeID, address: PeerAddress)] = [:]
    public private(set) var stats = Stats()

    public struct Stats: Hashable, Sendable {
        public var resolved = 0
        public var removed = 0
        public var joins = 0
        public var probeHints = 0
        public var ownRecords = 0
        /// Records not taken, by reason (`txt_malformed`, `interface_skipped`, `link_local`...).
        public var ignored: [String: Int] = [:]
    }

    public init(me: NodeID, filter: InterfaceFilter = InterfaceFilter()) {
        self.me = me
        self.filter = filter
    }

    /// The nodes discovery currently sees, with their addresses.
    public var peers: [NodeID: [PeerAddress]] {
        var out = [NodeID: Set<PeerAddress>]()
        for (_, r) in records { out[r.id, default: []].insert(r.address) }
        return out.mapValues { $0.sorted() }
    }

    public mutating func handle(_ event: DiscoveryEvent) -> [PeerFinderAction] {
        switch event {
        case .resolved(let s): return resolved(s)
        case .removed(let k): return removed(k)
        default: return []
        }
    }

    mutating func resolved(_ s: ResolvedService) -> [PeerFinderAction] {
        stats.resolved += 1
        guard filter.allows(s.interfaceName) else { return ignore("interface_skipped", s.key) }
        let service: HearsayService
        do { service = try HearsayService(txt: s.txt) } catch { return ignore(error.reason, s.key) }
        if service.id == me {
            stats.ownRecords += 1
            return []
        }
        guard !s.address.isLinkLocal else { return ignore("link_local", s.key) }
        // The SRV port is where the node listens; the TXT copy only says which protocol it is.
        let address = PeerAddress(host: s.address, port: s.port)
        let known = records.values.contains { $0.id == service.id && $0.address == address }
        records[s.key] = (service.id, address)
        guard !known else { return [] }
        stats.joins += 1
        return [.join(address, service.id)]
    }

    mutating func removed(_ key: ServiceKey) -> [PeerFinderAction] {
        guard let gone = records.removeValue(forKey: key) else { return [] }
        stats.removed += 1
        guard !records.values.contains(where: { $0.id == gone.id }) else { return [] }
        stats.probeHints += 1
        return [.probeSoon(gone.id)]
    }

    private mutating func ignore(_ reason: String, _ key: ServiceKey) -> [PeerFinderAction] {
        stats.ignored[reason, default: 0] += 1
        // A record that changed into something unusable no longer stands for its node.
        return removed(key)
    }
}
