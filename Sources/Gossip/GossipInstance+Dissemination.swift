import HearsayModel

/// A member that announced an update, and the address its announcement came from.
struct GraftSource: Hashable, Sendable {
    var peer: NodeID
    var address: PeerAddress
}

/// A missing update this node asked for (Plumtree's GRAFT), with the other announcers to try.
struct Graft: Sendable {
    var wanted: Precedence
    var sources: [GraftSource]
    var attempts = 1
}

extension GossipInstance {
    /// Requests per missing update before leaving it to anti-entropy: at 10 % loss a request
    /// and its answer both get through with p = 0.81, so ten tries all fail with p ≈ 6 · 10⁻⁸.
    /// (Five were seen to fail in a 10-minute, 1,000-node run, letting a refutation miss a node.)
    static let maxGraftAttempts = 10

    /// Spreads news, the moment it is learned (Plumtree, Leitão et al., SRDS 2007):
    /// - eager push: the updates themselves to `eagerFanout` random live members, now;
    /// - lazy push: their digests to `lazyFanout(n)` members after `lazyDelay`, so a member the
    ///   eager epidemic missed asks for them (graft) instead of waiting for anti-entropy;
    /// - piggyback: queued for probes, acks and the gossip tick (SWIM §4.4), `piggybackTransmits` times.
    /// `origin` is true when this node made the update (its own entry, suspicion or death).
    mutating func forward(_ updates: [Update], origin: Bool) {
        guard !updates.isEmpty else { return }
        let packets = packetize(updates)
        if takeEagerTokens(packets.count * config.eagerFanout) {
            // Not back to the sender of the datagram being handled: it has the news.
            for t in table.randomLive(config.eagerFanout, excluding: [id, replyPeer], using: &rng) {
                guard let a = address(of: t) else { continue }
                for p in packets {
                    send(.push(updates: p), to: t, at: a)
                    stats.eagerPackets += 1
                }
            }
        } else {
            stats.eagerSkipped += updates.count
        }
        for u in updates {
            lazyPending.append(Digest(id: u.subject, precedence: u.precedence))
            queue.enqueue(u, now: now)
        }
        if !lazyArmed {
            lazyArmed = true
            let earliest = lastLazyPush + config.lazySpacing
            let at = max(now + config.lazyDelay * (0.5 + rng.unit()), earliest)
            pending.append(.schedule(.lazyPush, at: at))
        }
        armGossip()
    }

    /// The eager-push token bucket: refills at `eagerRate`, holds at most `eagerBurst`.
    mutating func takeEagerTokens(_ n: Int) -> Bool {
        let elapsed = (now - eagerRefilledAt).seconds
        eagerRefilledAt = now
        eagerTokens = min(Double(config.eagerBurst), eagerTokens + elapsed * config.eagerRate)
        guard eagerTokens >= Double(n) else { return false }
        eagerTokens -= Double(n)
        return true
    }

    mutating func armGossip() {
        guard !gossipArmed, !queue.isEmpty else { return }
        gossipArmed = true
        schedule(.gossip, after: config.gossipInterval * (0.5 + rng.unit()))
    }

    /// Splits updates into lists that fit one datagram each (at most 255 updates a list).
    func packetize(_ updates: [Update]) -> [[Update]] {
        Self.split(updates, budget: config.maxPacketSize - 3 - GossipCodec.trailerSize, maxCount: 255, size: \.encodedSize)
    }

    func packetize(_ digests: [Digest]) -> [[Digest]] {
        Self.split(digests, budget: config.maxPacketSize - 8 - GossipCodec.trailerSize, maxCount: .max, size: \.encodedSize)
    }

    /// Greedy split into runs of at most `budget` bytes and `maxCount` items (an item larger than
    /// the budget travels alone).
    static func split<T>(_ items: [T], budget: Int, maxCount: Int, size: (T) -> Int) -> [[T]] {
        var out = [[T]]()
        var current = [T]()
        var bytes = 0
        for item in items {
            let s = size(item)
            if !current.isEmpty && (bytes + s > budget || current.count == maxCount) {
                out.append(current)
                current = []
                bytes = 0
            }
            current.append(item)
            bytes += s
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// Lazy push: announce what arrived since the last flush.
    mutating func lazyPushTick() {
        lazyArmed = false
        guard !lazyPending.isEmpty else { return }
        lastLazyPush = now
        // Only the newest digest per member matters.
        var newest = [NodeID: Precedence]()
        for d in lazyPending where newest[d.id].map({ d.precedence > $0 }) ?? true { newest[d.id] = d.precedence }
        let digests = newest.map { Digest(id: $0.key, precedence: $0.value) }.sorted { $0.id < $1.id }
        lazyPending.removeAll(keepingCapacity: true)
        let targets = table.randomLive(config.lazyFanout(members: othersLive + 1), excluding: [id], using: &rng)
        let packets = packetize(digests)
        for t in targets {
            guard let a = address(of: t) else { continue }
            for p in packets {
                send(.ihave(digests: p), to: t, at: a)
                stats.lazyPackets += 1
            }
        }
    }

    /// What this node holds about `d.id`, at which precedence.
    func localPrecedence(_ subject: NodeID) -> Precedence? {
        subject == id ? .entry(me.version) : table[subject]?.precedence
    }

    /// Digests announced by a peer: ask for what is newer than what we hold.
    mutating func receivedIHave(_ digests: [Digest], from: GraftSource) {
        var wanted = [Digest]()
        for d in digests {
            if let local = localPrecedence(d.id) {
                guard d.precedence > local else { continue }
            } else if d.precedence.rank != 0 {
                continue  // a claim about a member we never heard of is of no use
            }
            if var g = grafts[d.id], g.wanted >= d.precedence {
                if !g.sources.contains(from) && g.sources.count < 4 { g.sources.append(from) }
                grafts[d.id] = g
                continue
            }
            grafts[d.id] = Graft(wanted: d.precedence, sources: [from])
            wanted.append(d)
            schedule(.graft(d.id), after: config.graftTimeout)
        }
        guard !wanted.isEmpty else { return }
        // Grafts go only to an address that has proven it receives there: otherwise each missing
        // update's retries would reflect one announcement many times. An unproven announcer is
        // challenged (smaller than any ihave); the retry timers graft it once it answered.
        guard proven.contains(from.address) else { return challenge(from.peer, at: from.address) }
        stats.graftsSent += 1
        // One graft, no larger than the ihave (the wanted digests are some of its digests).
        send(.graft(digests: wanted), to: from.peer, at: from.address)
    }

    /// The request or its answer was lost: ask again, cycling through the announcers, up to
    /// `maxGraftAttempts` times in all (then anti-entropy repairs).
    mutating func graftTimedOut(_ subject: NodeID) {
        guard var g = grafts[subject] else { return }
        if let local = localPrecedence(subject), local >= g.wanted {
            grafts[subject] = nil
            return
        }
        guard g.attempts < Self.maxGraftAttempts, !g.sources.isEmpty else {
            grafts[subject] = nil
            return
        }
        let next = g.sources[g.attempts % g.sources.count]
        g.attempts += 1
        grafts[subject] = g
        schedule(.graft(subject), after: config.graftTimeout)
        guard proven.contains(next.address) else {
            // At most one challenge in flight to an address, whatever number of grafts wait on it.
            // (One unanswered for the whole retry window is taken as lost.)
            if !isChallenging(next.address, within: config.graftTimeout * Double(Self.maxGraftAttempts)) {
                challenge(next.peer, at: next.address)
            }
            return
        }
        stats.graftsSent += 1
        send(.graft(digests: [Digest(id: subject, precedence: g.wanted)]), to: next.peer, at: next.address)
    }

    /// `source` just proved its address: ask it at once for what waits on it (one graft).
    mutating func graftWaiting(on source: GraftSource) {
        let digests = grafts.filter { $0.value.sources.contains(source) }.map { Digest(id: $0.key, precedence: $0.value.wanted) }
            .sorted { $0.id < $1.id }
        guard !digests.isEmpty else { return }
        stats.graftsSent += 1
        for p in packetize(digests) { send(.graft(digests: p), to: source.peer, at: source.address) }
    }

    /// The update this node would send about a row: the signed claim behind a suspicion or
    /// death, else the entry.
    func update(for m: Member) -> Update {
        if m.state == .suspect || m.state == .dead, let c = m.claim { return Update(.claim(c), hops: m.hops) }
        return Update(.entry(m.entry), hops: m.hops)
    }

    /// A peer asks for updates we announced. An unproven source gets them only if they all fit in
    /// one datagram no larger than its graft; otherwise it is challenged, and the graft is
    /// answered in full the moment the response proves the address.
    mutating func receivedGraft(_ digests: [Digest], from: PeerAddress, sender: NodeID) {
        var updates = [Update]()
        for d in digests {
            if d.id == id {
                updates.append(Update(.entry(me), hops: 0))
            } else if let m = table[d.id], m.precedence >= d.precedence || m.claim?.precedence == d.precedence {
                updates.append(update(for: m))
            }
        }
        guard !updates.isEmpty else { return }
        for p in packetize(updates) {
            guard send(.push(updates: p), to: sender, at: from) else {
                // Refused: the address was challenged instead; the answer to the challenge gets these.
                if let seq = challengeOrder.last, challenges[seq]?.address == from { challenges[seq]?.deferred = digests }
                return
            }
        }
    }

    /// memberlist's gossip: while updates wait in the queue, send them to a few members.
    mutating func gossipTick() {
        gossipArmed = false
        guard !queue.isEmpty else { return }
        for t in table.randomLive(config.gossipFanout, excluding: [id], using: &rng) {
            guard let a = address(of: t) else { continue }
            let updates = queue.take(budget: config.maxPacketSize - 3 - GossipCodec.trailerSize, now: now)
            if updates.isEmpty { break }
            send(.push(updates: updates), to: t, at: a)
        }
        armGossip()
    }
}
