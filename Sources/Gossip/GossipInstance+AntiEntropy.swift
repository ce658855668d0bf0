import HearsayModel

extension GossipInstance {
    var reapInterval: Duration { config.tombstoneRetention * 0.25 }

    /// Forged entries after which the rest of an anti-entropy frame is dropped.
    static let maxForgedPerFrame = 8

    func record(_ m: Member) -> SyncRecord {
        SyncRecord(entry: m.entry, state: m.state, claim: m.claim)
    }

    // MARK: Join

    mutating func sendJoin() {
        guard let mine = table[id] else { return }
        let request = SyncRequest(kind: .join, from: id, root: table.root, count: UInt32(table.count),
                                  records: [record(mine)])
        for s in seeds { stream(.syncRequest(request), to: s) }
        stats.syncsStarted += 1
    }

    mutating func joinRetryTick() {
        guard !joined, !hasLeft, !seeds.isEmpty else { return }
        sendJoin()
        joinDelay = min(joinDelay * 2, config.joinRetryMax)
        schedule(.joinRetry, after: joinDelay)
    }

    /// Catch-up syncs after joining: one, then more about every `joinCatchUp` while the table is
    /// still growing — others are joining at the same time, and an update that spread while
    /// nobody knew this node yet may have missed it.
    static let maxCatchUps = 5

    mutating func catchUpTick() {
        guard catchUpsLeft > 0, table.count != rowsAtLastCatchUp else { return }
        catchUpsLeft -= 1
        rowsAtLastCatchUp = table.count
        schedule(.catchUp, after: config.joinCatchUp * (0.5 + rng.unit()))
        guard !hasLeft, let peer = table.randomLive(1, excluding: [id], using: &rng).first, let a = address(of: peer)
        else { return }
        startSync(.periodic, to: a)
    }

    // MARK: Periodic push-pull and reconnect

    /// Push-pull with one random live member (memberlist's push/pull, with a summary first).
    mutating func pushPullTick() {
        schedule(.pushPull, after: config.pushPullInterval * (0.9 + 0.2 * rng.unit()))
        guard !hasLeft, let peer = table.randomLive(1, excluding: [id], using: &rng).first,
            let a = address(of: peer)
        else { return }
        startSync(.periodic, to: a)
    }

    /// "Gossip to the dead": sync with a member held dead, so that the halves of a healed
    /// partition find each other. With no live member left, go back to the seeds.
    mutating func reconnectTick() {
        schedule(.reconnect, after: config.reconnectInterval * (0.9 + 0.2 * rng.unit()))
        guard !hasLeft else { return }
        if othersLive == 0 && !seeds.isEmpty {
            sendJoin()
            return
        }
        guard !tombstones.isEmpty else { return }
        for _ in 0..<4 {
            let candidate = tombstones[rng.below(tombstones.count)]
            if let m = table[candidate], m.state == .dead, let a = m.entry.entry.gossipAddress {
                startSync(.reconnect, to: a)
                return
            }
        }
    }

    mutating func startSync(_ kind: SyncRequest.Kind, to a: PeerAddress) {
        stats.syncsStarted += 1
        stream(.syncRequest(SyncRequest(kind: kind, from: id, root: table.root, count: UInt32(table.count),
                                        records: [])), to: a)
    }

    // MARK: Tombstones

    /// Forgets dead and left members once `tombstoneRetention` has passed since they died or left.
    mutating func reapTick() {
        schedule(.reap, after: reapInterval)
        let horizon = now + .nanoseconds(-config.tombstoneRetention.nanoseconds)
        var keep = 0
        while let first = tombstones.first, keep < tombstones.count {
            guard let m = table[first], m.state == .dead || m.state == .left else {
                tombstones.removeFirst()
                continue
            }
            if m.updatedAt <= horizon {
                tombstones.removeFirst()
                table.remove(first)
                if m.entry.entry.isForeign, let n = foreignCount[m.entry.owner] {
                    foreignCount[m.entry.owner] = n > 1 ? n - 1 : nil
                }
                suspicions[first] = nil
                pendingDeaths[first] = nil
                grafts[first] = nil
                pending.append(.event(MembershipEvent(
                    id: first, entry: m.entry, previous: m.state, state: nil, precedence: m.precedence, hops: m.hops,
                    at: now)))
            } else {
                // Deque order is death order except for re-deaths; rotate and look at the rest once.
                tombstones.append(tombstones.removeFirst())
                keep += 1
            }
        }
    }

    // MARK: Stream messages

    mutating func receiveStream(_ m: GossipMessage, from: PeerAddress, conversation: UInt64) {
        switch m {
        case .syncRequest(let r):
            if r.kind == .inspect {
                let rows = table.sortedRows().map(record)
                stream(.syncRecords(records: rows, wants: []), to: from, conversation: conversation)
            } else if r.kind == .join {
                merge(r.records, fresh: true)
                let rows = table.sortedRows().map(record)
                stream(.syncRecords(records: rows, wants: []), to: from, conversation: conversation)
            } else if r.root == table.root && Int(r.count) == table.count {
                stats.syncsEqual += 1
                stream(.syncEqual, to: from, conversation: conversation)
            } else {
                stream(.syncBuckets(root: table.root, buckets: table.buckets), to: from, conversation: conversation)
            }
        case .syncBuckets(_, let theirs):
            guard theirs.count == 256 else { return }
            var differ = [Bool](repeating: false, count: 256)
            var list = [UInt8]()
            for b in 0..<256 where theirs[b] != table.buckets[b] {
                differ[b] = true
                list.append(UInt8(b))
            }
            let digests = table.rows(inBuckets: differ).map { Digest(id: $0.id, precedence: $0.precedence) }
            stream(.syncDigest(buckets: list, digests: digests), to: from, conversation: conversation)
        case .syncDigest(let list, let digests):
            var inScope = [Bool](repeating: false, count: 256)
            for b in list { inScope[Int(b)] = true }
            var theirs = [NodeID: Precedence]()
            for d in digests where inScope[d.id.bucket] { theirs[d.id] = d.precedence }
            var records = [SyncRecord]()
            for m in table.rows(inBuckets: inScope) {
                if let p = theirs[m.id] {
                    if m.precedence > p { records.append(record(m)) }
                } else if m.state.isLive || m.id == id {
                    records.append(record(m))
                }
            }
            let wants = digests.filter { d in
                guard inScope[d.id.bucket] else { return false }
                if let mine = localPrecedence(d.id) { return d.precedence > mine }
                return d.precedence.rank == 0
            }.map(\.id)
            stream(.syncRecords(records: records, wants: wants), to: from, conversation: conversation)
        case .syncRecords(let records, let wants):
            // `from` of a stream may be an ephemeral TCP port: stale claims are not answered there.
            let joinReply = !joined
            joined = true
            merge(records, fresh: !joinReply)
            if joinReply {
                catchUpsLeft = Self.maxCatchUps
                rowsAtLastCatchUp = -1
                schedule(.catchUp, after: config.joinCatchUp * (0.5 + rng.unit()))
            }
            if !wants.isEmpty {
                let rows = wants.compactMap { table[$0] }.map(record)
                stream(.syncRecords(records: rows, wants: []), to: from, conversation: conversation)
            }
        case .syncEqual:
            break
        default:
            stats.misdirected += 1
        }
    }

    /// Merges rows from anti-entropy: first every entry, then the signed claims behind suspect
    /// and dead rows (their claimants may be among the entries). A peer's `dead` is taken as
    /// `applyDead` takes any death claim (memberlist's mergeRemoteState: a node we can still
    /// reach gets the chance to refute). Tombstones of members we never knew are not learned.
    /// `fresh` rows are forwarded like gossip; a join reply's rows are old news to everyone
    /// else and are not.
    @discardableResult
    mutating func merge(_ records: [SyncRecord], fresh: Bool) -> Int {
        var news = [Update]()
        var claims = [Claim]()
        let forgedBefore = stats.rejectedForged
        for r in records {
            // A frame full of forgeries is not worth reading to the end: each costs a signature check.
            guard stats.rejectedForged - forgedBefore < Self.maxForgedPerFrame else {
                stats.framesAbandoned += 1
                break
            }
            let known = r.entry.id == id || table[r.entry.id] != nil
            if !known && (r.state == .dead || r.state == .left) {
                stats.unknownSubject += 1
                continue
            }
            if applyEntry(r.entry, hops: 1) { news.append(Update(.entry(r.entry), hops: 1)) }
            if let c = r.claim, c.subject == r.entry.id { claims.append(c) }
        }
        for c in claims where applyClaim(c, hops: 1) {
            news.append(Update(.claim(c), hops: 1))
        }
        if fresh && !news.isEmpty { forward(news, origin: false) }
        return news.count
    }
}
