import HearsayModel

extension GossipInstance {
    /// Applies the updates of one received datagram and forwards those that were news.
    mutating func receiveUpdates(_ updates: [Update], from: PeerAddress) {
        guard !updates.isEmpty else { return }
        replyTo = from
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
        case .suspect(let subject, let inc, let from): return applySuspect(subject, incarnation: inc, from: from, hops: hops)
        case .dead(let subject, let inc, let from): return applyDead(subject, incarnation: inc, from: from, hops: hops)
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
        guard verifier.isAuthentic(e) else {
            stats.rejectedForged += 1
            return false
        }
        let state: MemberState = tombstone ? .left : .alive
        table.put(Member(entry: e, state: state, claimIncarnation: 0, updatedAt: now, hops: hops))
        suspicions[subject] = nil
        verifications[subject] = nil
        if grafts[subject].map({ Precedence.entry(e.version) >= $0.wanted }) == true { grafts[subject] = nil }
        if tombstone { tombstones.append(subject) }
        stats.applied += 1
        emit(subject, previous: previous?.state)
        return true
    }

    /// The row a suspect or dead claim is about, or nil: a claim about this node is refuted (or,
    /// if already refuted, answered with the current entry), one about an unknown member dropped.
    mutating func claimTarget(_ subject: NodeID, incarnation inc: UInt64, from: NodeID) -> Member? {
        if subject == id {
            if inc >= me.version.incarnation { refute(above: inc, claimant: from) } else { reassert() }
            return nil
        }
        guard let m = table[subject], m.isNode else {
            stats.unknownSubject += 1
            return nil
        }
        return m
    }

    mutating func applySuspect(_ subject: NodeID, incarnation inc: UInt64, from: NodeID, hops: UInt8) -> Bool {
        guard var m = claimTarget(subject, incarnation: inc, from: from) else { return false }
        switch m.state {
        case .dead, .left:
            stats.stale += 1
            return false
        case .suspect where inc == m.claimIncarnation:
            // Another member suspects it too: an independent confirmation shortens the timeout.
            guard var s = suspicions[subject], s.confirm(from) else {
                stats.stale += 1
                return false
            }
            suspicions[subject] = s
            if s.deadline <= now { declareDead(subject) } else { pending.append(.schedule(.suspicion(subject), at: s.deadline)) }
            return true
        case .suspect where inc < m.claimIncarnation:
            stats.stale += 1
            return false
        case .alive where inc < m.entry.version.incarnation:
            stats.stale += 1
            return false
        default:
            let previous = m.state
            m.state = .suspect
            m.claimIncarnation = inc
            m.claimant = from
            m.updatedAt = now
            m.hops = hops
            table.put(m)
            startSuspicion(subject, incarnation: inc, from: from)
            if grafts[subject].map({ Precedence.suspect(inc) >= $0.wanted }) == true { grafts[subject] = nil }
            stats.applied += 1
            emit(subject, previous: previous)
            return true
        }
    }

    mutating func applyDead(_ subject: NodeID, incarnation inc: UInt64, from: NodeID, hops: UInt8) -> Bool {
        guard var m = claimTarget(subject, incarnation: inc, from: from) else { return false }
        guard m.state.isLive, Precedence.dead(inc) > m.precedence else {
            stats.stale += 1
            return false
        }
        let previous = m.state
        m.state = .dead
        m.claimIncarnation = inc
        m.claimant = from
        m.updatedAt = now
        m.hops = hops
        table.put(m)
        suspicions[subject] = nil
        verifications[subject] = nil
        if grafts[subject].map({ Precedence.dead(inc) >= $0.wanted }) == true { grafts[subject] = nil }
        tombstones.append(subject)
        stats.applied += 1
        emit(subject, previous: previous)
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
        // Claims are not signed: one naming an incarnation this node could not have published
        // (far beyond its own) is forged, and must not push the incarnation to the end of its range.
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
        if let c = claimant, c != id, let a = address(of: c) { send(.push(updates: [Update(.entry(me), hops: 0)]), to: a) }
    }

    /// A claim about this node against an incarnation it already refuted: whoever sent it has
    /// not heard the refutation (it was partitioned away, say). Send it the current entry; it
    /// will be news there and spread from there.
    mutating func reassert() {
        guard !reasserted, !hasLeft, let a = replyTo else { return }
        reasserted = true
        stats.reassertions += 1
        send(.push(updates: [Update(.entry(me), hops: 0)]), to: a)
    }

    /// This node's own probe failed: suspect the target, tell everyone, and tell the target.
    /// The relays that could not reach it either (their nacks) confirm the suspicion at once.
    mutating func suspectLocally(_ subject: NodeID, incarnation: UInt64, confirmedBy nackers: [NodeID] = []) {
        let u = Update(.suspect(id: subject, incarnation: incarnation, from: id), hops: 0)
        guard applySuspect(subject, incarnation: incarnation, from: id, hops: 0) else { return }
        stats.suspicionsRaised += 1
        if var s = suspicions[subject] {
            s.firstHand = true
            for n in nackers where n != id && n != subject { _ = s.confirm(n) }
            suspicions[subject] = s
            pending.append(.schedule(.suspicion(subject), at: s.deadline))
        }
        if let a = address(of: subject) { send(.push(updates: [u]), to: a) }
        forward([u], origin: true)
    }

    mutating func startSuspicion(_ subject: NodeID, incarnation: UInt64, from: NodeID) {
        let n = othersLive + 1
        let t = config.suspicionTimeouts(members: n)
        let k = max(0, min(config.suspicionConfirmations, n - 2))
        let s = Suspicion(incarnation: incarnation, from: from, start: now, min: t.min, max: t.max, k: k)
        suspicions[subject] = s
        pending.append(.schedule(.suspicion(subject), at: s.deadline))
    }

    mutating func suspicionTimedOut(_ subject: NodeID) {
        guard let s = suspicions[subject], now >= s.deadline, let m = table[subject], m.state == .suspect,
            m.claimIncarnation == s.incarnation
        else { return }
        if s.firstHand { declareDead(subject) } else { verify(subject) }
    }

    /// The suspicion ran out unrefuted: the member is dead, and everyone must hear it.
    mutating func declareDead(_ subject: NodeID) {
        guard let m = table[subject], m.state == .suspect else { return }
        let inc = m.claimIncarnation
        stats.deathsDeclared += 1
        if applyDead(subject, incarnation: inc, from: id, hops: 0) {
            forward([Update(.dead(id: subject, incarnation: inc, from: id), hops: 0)], origin: true)
        }
    }
}
