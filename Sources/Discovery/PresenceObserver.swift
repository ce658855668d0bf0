import HearsayModel

/// What observing link-local XMPP users asks of gossip (issue 6).
public enum PresenceAction: Hashable, Sendable {
    /// Publish, or update, the foreign entry for this user, reachable at `address`.
    case publish(LinkLocalPresence, address: HostAddress)
    /// The last record of this user (its instance name) went away: retract the entry.
    case retract(instance: String)
}

/// Turns `_presence._tcp` browse results into foreign entries: one per user (instance name),
/// however many interfaces and address families its record is seen on; IPv4 preferred. Records
/// published by Hearsay nodes themselves (`node=hearsay`: their users are in the table already)
/// and records on skipped interfaces or with unusable TXT are ignored and counted. Sans-IO: the
/// Avahi shell feeds it events, the node carries out the actions.
public struct PresenceObserver: Sendable {
    public var filter: InterfaceFilter
    /// The `node` TXT value Hearsay publishes for its own users.
    public static let hearsayNode = "hearsay"
    /// Each live record, and the user it stands for.
    public private(set) var records: [ServiceKey: (presence: LinkLocalPresence, address: HostAddress)] = [:]
    /// What was last published for each user.
    public private(set) var published: [String: (presence: LinkLocalPresence, address: HostAddress)] = [:]
    public private(set) var ignored: [String: Int] = [:]

    public init(filter: InterfaceFilter = InterfaceFilter()) { self.filter = filter }

    public mutating func handle(_ event: DiscoveryEvent) -> [PresenceAction] {
        switch event {
        case .resolved(let s): return resolved(s)
        case .removed(let k): return removed(k)
        default: return []
        }
    }

    mutating func resolved(_ s: ResolvedService) -> [PresenceAction] {
        guard filter.allows(s.interfaceName) else { return ignore("interface_skipped", s.key) }
        let p: LinkLocalPresence
        do { p = try LinkLocalPresence(instance: s.key.name, port: s.port, txt: s.txt) } catch {
            return ignore(error.reason, s.key)
        }
        // Hearsay's own users, and the stand-ins a node publishes for remote ones (`hearsay-relay`).
        guard !p.node.hasPrefix(Self.hearsayNode) else { return ignore("hearsay_user", s.key) }
        guard !s.address.isLinkLocal else { return ignore("link_local", s.key) }
        records[s.key] = (p, s.address)
        return settle(p.instance)
    }

    mutating func removed(_ key: ServiceKey) -> [PresenceAction] {
        guard let gone = records.removeValue(forKey: key) else { return [] }
        return settle(gone.presence.instance)
    }

    /// Publishes what the user's records now say (IPv4 first, then the lowest key), or retracts.
    mutating func settle(_ instance: String) -> [PresenceAction] {
        let mine = records.filter { $0.value.presence.instance == instance }
            .sorted { a, b in (a.key.ipv6 ? 1 : 0, a.key.interface) < (b.key.ipv6 ? 1 : 0, b.key.interface) }
        guard let best = mine.first?.value else {
            guard published.removeValue(forKey: instance) != nil else { return [] }
            return [.retract(instance: instance)]
        }
        if let last = published[instance], last.presence == best.presence, last.address == best.address { return [] }
        published[instance] = best
        return [.publish(best.presence, address: best.address)]
    }

    private mutating func ignore(_ reason: String, _ key: ServiceKey) -> [PresenceAction] {
        ignored[reason, default: 0] += 1
        return removed(key)
    }
}
