import HearsayModel

extension GossipInstance {
    /// Applies the updates of one received datagram and forwards those that were news.
    mutating func receiveUpdates(_ updates: [Update]) {
        guard !updates.isEmpty else { return }
        var news = [Update]()
        for u in updates {
            let hops = u.hops == .max ? u.hops : u.hops + 1
            if apply(u.kind, hops: hops) { news.append(Update(u.kind, hops: hops)) }
        }
        if !news.isEmpty { forward(news, origin: false) }
    }

    /// Applies one update to the table (SWIM §4.2 precedence, see `Precedence`). Returns whether
    /// it changed the table — and so is news to forward. Claims about this node are refuted
    /// instead (the refutation is forwarded by `refute`).
    @discardableResult
    mutating func apply(_ kind: Update.Kind, hops: UInt8) -> Bool {
        switch kind {
        case .entry(let e): return applyEntry(e, hops: hops)
        case .claim(let c): return applyClaim(c, hops: hops)
        }
    }

    mutating func applyEntry(_ e: SignedEntry, hops: UInt8) -> Bool {
        let subject = e.id
        if subject == id {
            // Our own entry from a previous life (restart) that outranks the current one: refute.
            if e.version > me.version && verifier.isAuthentic(e) { refute(above: e.version.incarnation) }
            stats.stale += 1
            return false
        }
        let tombstone = e.entry.flags.contains(.left) || e.entry.flags.contains(.retracted)
        let previous = table[subject]
        if let previous {
            guard Precedence.entry(e.version) > previous.precedence else {
                stats.stale += 1
                return false
            }
        } else if tombstone {
            stats.unknownSubject += 1
            return false
        }
        // Foreign entries are bounded per observer: one member cannot fill every table.
        if previous == nil && e.entry.isForeign && foreignCount[e.owner, default: 0] >= Self.maxForeignPerOwner {
            stats.foreignOverLimit += 1
            return false
        }
        guard verifier.isAuthentic(e) else {
            stats.rejectedForged += 1
            return false
        }
        if previous == nil && e.entry.isForeign { foreignCount[e.owner, default: 0] += 1 }
        let state: MemberState = tombstone ? .left : .alive
        table.put(Member(entry: e, state: state, claimIncarnation: 0, updatedAt: now, hops: hops))
        suspicions[subject] = nil
        pendingDeaths[subject] = nil
        verifications[subject] = nil
        if grafts[subject].map({ Precedence.entry(e.version) >= $0.wanted }) == true { grafts[subject] = nil }
        if tombstone { tombstones.append(subject) }
        stats.applied += 1
        emit(subject, previous: previous?.state)
        return true
    }

    /// How far beyond its own incarnation a claim about this node may be and still be refuted:
    /// a previous life may have used a higher one (2^32 covers clock-derived incarnations).
    static let maxIncarnationLead: UInt64 = 1 << 32

    /// SWIM §4.2: someone suspects (or buried) this node at `incarnation`; come back with a
    /// higher one. Lifeguard: having to refute is a sign of local trouble.
    /// The refutation floods like any update, and also goes straight to the claimant, whose
    /// suspicion timer is the one that runs out first.
    mutating func refute(above incarnation: UInt64, claimant: NodeID? = nil) {
        guard !hasLeft else { return }
        // An entry of a previous life naming an incarnation this node could not have published
        // (far beyond its own) must not push the incarnation to the end of its range.
        guard incarnation <= me.version.incarnation &+ Self.maxIncarnationLead,
            incarnation < UInt64.max - Self.maxIncarnationLead
        else {
            stats.implausibleClaims += 1
            return
        }
        var e = me.entry
        e.version = EntryVersion(incarnation: max(incarnation, me.version.incarnation) + 1, sequence: 0)
        stats.refutations += 1
        adjustAwareness(1)
        try? publishSelf(e)
        guard let c = claimant, c != id else { return }
        if c == replyPeer {
            answerWithEntry()
        } else {
            send(.push(updates: [Update(.entry(me), hops: 0)]), to: c)
        }
    }

    /// A claim about this node against an incarnation it already refuted: whoever sent it has
    /// not heard the refutation (it was partitioned away, say). Send it the current entry; it
    /// will be news there and spread from there.
    mutating func reassert() {
        guard !reasserted, !hasLeft, replyTo != nil else { return }
        reasserted = true
        stats.reassertions += 1
        answerWithEntry()
    }

    /// Sends this node's current entry to the sender of the datagram being handled: inside the
    /// ack if that datagram is a ping (one reply, no larger than the ping), else as a push.
    mutating func answerWithEntry() {
        guard let a = replyTo else { return }
        if answeringPing {
            entryWanted = true
        } else {
            send(.push(updates: [Update(.entry(me), hops: 0)]), to: replyPeer, at: a)
        }
    }
}
