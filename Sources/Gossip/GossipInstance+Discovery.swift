import HearsayModel

/// Inputs from peer discovery outside gossip (mDNS/DNS-SD on the LAN). Discovery only proposes:
/// who is a member and who is alive stays gossip's decision.
extension GossipInstance {
    /// A peer was found at `address` (its DNS-SD record resolved), with the node id its record
    /// names, if any. Unless it is already a live member, a join-kind sync goes to it at once:
    /// it carries this node's entry, and the answer brings the peer's whole table. A node that
    /// restarted (known here as dead or left) is reached the same way.
    public mutating func discovered(_ address: PeerAddress, id peer: NodeID?, now: Instant) -> [Directive] {
        begin(now)
        guard !hasLeft, peer != id, let mine = table[id] else { return finish() }
        if let peer, let m = table[peer], m.state.isLive { return finish() }
        stats.syncsStarted += 1
        stream(.syncRequest(SyncRequest(kind: .join, from: id, root: table.root, count: UInt32(table.count),
                                        records: [record(mine)])), to: address)
        return finish()
    }

    /// A peer's DNS-SD record went away: probe it at the next protocol period instead of in its
    /// turn. A clean leave reaches gossip by itself, and a crashed peer's record lingers for
    /// minutes, so this only shortens the wait when a peer drops off the link.
    public mutating func probeSoon(_ peer: NodeID, now: Instant) -> [Directive] {
        begin(now)
        if peer != id, let m = table[peer], m.state.isLive, !probeFirst.contains(peer) { probeFirst.append(peer) }
        return finish()
    }
}

extension GossipInstance {
    /// `peer` showed that it does not know this node yet (it refused a chat session from an
    /// unknown key: it restarted and has not heard of this node since). A join-kind sync to its
    /// gossip address carries this node's entry at once, and the answer brings its table, instead
    /// of waiting for anti-entropy to get there.
    public mutating func introduce(to peer: NodeID, now: Instant) -> [Directive] {
        begin(now)
        guard !hasLeft, peer != id, let mine = table[id], let m = table[peer], m.state.isLive,
            let address = m.entry.entry.gossipAddress
        else { return finish() }
        stats.syncsStarted += 1
        stream(.syncRequest(SyncRequest(kind: .join, from: id, root: table.root, count: UInt32(table.count),
                                        records: [record(mine)])), to: address)
        return finish()
    }
}
