import HearsayModel

/// Suspicion and death (SWIM §4.2, Lifeguard §IV.B), from signed claims.
///
/// A claim is believed only if its claimant is a member this node knows, its signature verifies
/// under that member's key, and its incarnation is one the subject has published (no higher than
/// the entry held here). Signatures are checked only once a claim would change the table, so a
/// duplicate costs nothing. One member's word never buries a node: a `dead` claim becomes death
/// here only if this node has itself held the suspicion for half its shortest timeout;
/// otherwise it is a suspicion, which a live subject refutes.
extension GossipInstance {
    mutating func applyClaim(_ c: Claim, hops: UInt8) -> Bool {
        switch c.kind {
        case .suspect: applySuspect(c, hops: hops)
        case .dead: applyDead(c, hops: hops)
        }
    }

    /// The Ed25519 key of a claimant this node knows, or nil.
    func claimantKey(_ claimant: NodeID) -> [UInt8]? {
        if claimant == id { return identity.publicKey }
        guard let m = table[claimant], m.isNode else { return nil }
        return m.entry.entry.publicKey
    }

    /// Whether `c` is signed by its claimant, counting why not.
    mutating func isAuthentic(_ c: Claim) -> Bool {
        guard let key = claimantKey(c.claimant) else {
            stats.unknownClaimant += 1
            return false
        }
        guard verifier.isAuthentic(c, claimantKey: key) else {
            stats.rejectedForged += 1
            return false
        }
        return true
    }

    /// The row a claim is about, or nil: a claim about this node is refuted (or, if already
    /// refuted, answered with the current entry), one about an unknown member or above the
    /// subject's known incarnation dropped.
    mutating func claimTarget(_ c: Claim) -> Member? {
        if c.subject == id {
            answerClaimAboutSelf(c)
            return nil
        }
        guard let m = table[c.subject], m.isNode else {
            stats.unknownSubject += 1
            return nil
        }
        guard c.incarnation <= m.entry.version.incarnation else {
            stats.claimsAhead += 1
            return nil
        }
        return m
    }

    /// Every claim about this node that a member could believe is answered: one at the current
    /// incarnation is refuted, an older one answered with the current entry. A claim above it
    /// cannot be believed by anyone (they hold at most this node's entries) and is ignored.
    mutating func answerClaimAboutSelf(_ c: Claim) {
        let mine = me.version.incarnation
        guard c.incarnation <= mine else {
            stats.implausibleClaims += 1
            return
        }
        // A claimant this node has not met yet may be known to others: answer anyway (a
        // refutation is always safe); a claimant it knows must have signed.
        if claimantKey(c.claimant) != nil {
            guard isAuthentic(c) else { return }
        }
        if c.incarnation == mine { refute(above: c.incarnation, claimant: c.claimant) } else { reassert() }
    }

    mutating func applySuspect(_ c: Claim, hops: UInt8) -> Bool {
        guard var m = claimTarget(c) else { return false }
        let subject = c.subject, inc = c.incarnation
        switch m.state {
        case .dead, .left:
            stats.stale += 1
            return false
        case .suspect where inc == m.claimIncarnation:
            // Another member suspects it too: an independent confirmation shortens the timeout.
            guard var s = suspicions[subject], s.wouldConfirm(c.claimant) else {
                stats.stale += 1
                return false
            }
            guard c.claimant == id || isAuthentic(c) else { return false }
            _ = s.confirm(c.claimant)
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
            guard c.claimant == id || isAuthentic(c) else { return false }
            let previous = m.state
            put(&m, .suspect, by: c, hops: hops)
            startSuspicion(subject, incarnation: inc, from: c.claimant)
            if grafts[subject].map({ Precedence.suspect(inc) >= $0.wanted }) == true { grafts[subject] = nil }
            stats.applied += 1
            emit(subject, previous: previous)
            return true
        }
    }

    mutating func applyDead(_ c: Claim, hops: UInt8) -> Bool {
        guard var m = claimTarget(c) else { return false }
        let subject = c.subject, inc = c.incarnation
        guard m.state.isLive, Precedence.dead(inc) > m.precedence else {
            stats.stale += 1
            return false
        }
        if c.claimant != id {
            let held = suspicions[subject].map { $0.incarnation == inc && now - $0.start >= $0.min * 0.5 } ?? false
            guard held else {
                // Not yet: a suspicion for now; the death is kept and taken once the suspicion
                // has been held long enough, unless the member refutes first.
                stats.deathsDowngraded += 1
                let applied = applySuspect(c, hops: hops)
                if let s = suspicions[subject], s.incarnation == inc, pendingDeaths[subject] == nil,
                    table[subject]?.state == .suspect, applied || isAuthentic(c)
                {
                    pendingDeaths[subject] = c
                    pending.append(.schedule(.suspicion(subject), at: s.start + s.min * 0.5))
                }
                return applied
            }
            guard isAuthentic(c) else { return false }
        }
        let previous = m.state
        put(&m, .dead, by: c, hops: hops)
        suspicions[subject] = nil
        pendingDeaths[subject] = nil
        verifications[subject] = nil
        if grafts[subject].map({ Precedence.dead(inc) >= $0.wanted }) == true { grafts[subject] = nil }
        tombstones.append(subject)
        stats.applied += 1
        emit(subject, previous: previous)
        return true
    }

    /// Puts row `m` in `state` on the strength of claim `c`.
    mutating func put(_ m: inout Member, _ state: MemberState, by c: Claim, hops: UInt8) {
        m.state = state
        m.claimIncarnation = c.incarnation
        m.claimant = c.claimant
        m.claim = c
        m.updatedAt = now
        m.hops = hops
        table.put(m)
    }

    /// This node's own probe failed: suspect the target, tell everyone, and tell the target
    /// (with this node's entry, so that the target's refutation fits in a reply to it).
    /// The relays that could not reach it either (their nacks) confirm the suspicion at once.
    mutating func suspectLocally(_ subject: NodeID, incarnation: UInt64, confirmedBy nackers: [NodeID] = []) {
        let c = Claim.make(.suspect, subject: subject, incarnation: incarnation, by: identity)
        guard applySuspect(c, hops: 0) else { return }
        stats.suspicionsRaised += 1
        if var s = suspicions[subject] {
            s.firstHand = true
            for n in nackers where n != id && n != subject { _ = s.confirm(n) }
            suspicions[subject] = s
            pending.append(.schedule(.suspicion(subject), at: s.deadline))
        }
        let u = Update(.claim(c), hops: 0)
        send(.push(updates: [u, Update(.entry(me), hops: 0)]), to: subject)
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
        if let c = pendingDeaths[subject], let s = suspicions[subject], now - s.start >= s.min * 0.5 {
            pendingDeaths[subject] = nil
            if let m = table[subject], m.state == .suspect, m.claimIncarnation == c.incarnation,
                applyDead(c, hops: m.hops)
            {
                forward([Update(.claim(c), hops: m.hops)], origin: false)
                return
            }
        }
        guard let s = suspicions[subject], now >= s.deadline, let m = table[subject], m.state == .suspect,
            m.claimIncarnation == s.incarnation
        else { return }
        if s.firstHand { declareDead(subject) } else { verify(subject) }
    }

    /// The suspicion ran out unrefuted: the member is dead, and everyone must hear it.
    mutating func declareDead(_ subject: NodeID) {
        guard let m = table[subject], m.state == .suspect else { return }
        let c = Claim.make(.dead, subject: subject, incarnation: m.claimIncarnation, by: identity)
        stats.deathsDeclared += 1
        if applyDead(c, hops: 0) { forward([Update(.claim(c), hops: 0)], origin: true) }
    }
}
