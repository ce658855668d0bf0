import HearsayModel

/// Entries for users of other realms that this node observes (a link-local XMPP buddy on its
/// LAN, issue 6): published, updated and retracted by this node alone. Their id derives from this
/// node's id, the realm and the foreign name (`NodeID(foreignUser:realm:owner:)`), and this node
/// signs them, so no other node can publish or retract them. They spread like any entry but are
/// not SWIM members: never probed, never suspected.
extension GossipInstance {
    /// Publishes, or updates, the entry of `name` in `realm`. `fill` sets what the observation
    /// says (handle, addresses, port, status, text); the key, the foreign name, the realm and the
    /// version are this method's. Returns the entry's id.
    public mutating func publishForeign(name: String, realm: String, now: Instant, _ fill: (inout PresenceEntry) -> Void)
        throws(EntryError) -> (id: NodeID, directives: [Directive])
    {
        begin(now)
        let fid = NodeID(foreignUser: name, realm: realm, owner: id)
        let previous = table[fid]
        var e = previous?.entry.entry ?? PresenceEntry(
            publicKey: identity.publicKey, foreignName: name, handle: name, realm: realm, protocolName: realm,
            addresses: [], gossipPort: 0, chatPort: 0, version: EntryVersion(incarnation: me.version.incarnation, sequence: 0))
        fill(&e)
        e.publicKey = identity.publicKey
        e.foreignName = name
        e.realm = realm
        e.gossipPort = 0
        e.flags.remove(.retracted)
        e.flags.remove(.left)
        // The owner's incarnation, so that a restart's entries outrank the last life's.
        let mine = me.version.incarnation
        if let p = previous?.entry.entry.version, p.incarnation >= mine {
            e.version = EntryVersion(incarnation: p.incarnation, sequence: p.sequence + 1)
        } else {
            e.version = EntryVersion(incarnation: mine, sequence: 0)
        }
        do {
            try putForeign(e, previous: previous)
        } catch {
            _ = finish()
            throw error
        }
        return (fid, finish())
    }

    /// Retracts an entry this node published (the user went away): a signed tombstone spreads
    /// and the row is `left` everywhere, then forgotten with the other tombstones.
    public mutating func retractForeign(_ fid: NodeID, now: Instant) -> [Directive] {
        begin(now)
        guard let m = table[fid], m.entry.owner == id, m.entry.entry.isForeign, m.state != .left else { return finish() }
        var e = m.entry.entry
        e.flags.insert(.retracted)
        e.status = .offline
        e.version.sequence += 1
        try? putForeign(e, previous: m)
        return finish()
    }

    /// The live foreign entries this node owns.
    public var ownForeign: [NodeID] {
        table.rows.values.filter { !$0.isNode && $0.entry.owner == id && $0.state != .left }.map(\.id).sorted()
    }

    mutating func putForeign(_ e: PresenceEntry, previous: Member?) throws(EntryError) {
        let signed = try SignedEntry.sign(e, with: identity)
        let tombstone = e.flags.contains(.retracted)
        table.put(Member(entry: signed, state: tombstone ? .left : .alive, claimIncarnation: 0, updatedAt: now, hops: 0))
        if tombstone { tombstones.append(signed.id) }
        emit(signed.id, previous: previous?.state)
        forward([Update(.entry(signed), hops: 0)], origin: true)
    }
}
