import HearsayModel

/// The probe in flight (SWIM §4.1): one per protocol period.
struct ProbeState: Sendable {
    let seq: UInt32
    let target: NodeID
    let address: PeerAddress
    let sentAt: Instant
    var indirect = false
    /// The members asked to probe the target for us: only they may relay its ack, or a nack.
    var helpers: [NodeID] = []
    var expectedNacks = 0
    /// Relays that reported the target silent to them too: independent evidence.
    var nackers: [NodeID] = []
    var nacks: Int { nackers.count }
}

/// An indirect probe this node relays for a requester.
struct Relay: Sendable {
    let requester: NodeID
    let requesterAddress: PeerAddress
    let requesterSeq: UInt32
    /// Only the target's own ack (checked by its key) is relayed.
    let target: NodeID
}

/// A ping sent only to learn whether a source can receive at its address.
struct Challenge: Sendable {
    let peer: NodeID
    let address: PeerAddress
    let sentAt: Instant
    /// A graft refused for want of proof: answered as soon as the response comes.
    var deferred: [Digest] = []
}

/// Round-robin over a random permutation of the member order (SWIM §4.3), in O(1) memory: the
/// pass visits `(start + i · stride) mod n` with `stride` coprime to `n`, both drawn afresh each
/// pass. Every member is probed once per pass, in an order no other node shares.
struct ProbeCursor: Sendable {
    var start = 0
    var stride = 1
    var step = 0
    var n = 0

    mutating func next(count: Int, using rng: inout SeededRandom) -> Int {
        if step >= n || n != count {
            n = count
            step = 0
            start = rng.below(count)
            stride = 1
            if count > 2 {
                repeat { stride = 1 + rng.below(count - 1) } while gcd(stride, count) != 1
            }
        }
        let idx = (start + step * stride) % n
        step += 1
        return idx
    }

    private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}

extension GossipInstance {
    /// Relays in flight at most: a ping-req costs this node a ping and a timer.
    static let maxRelays = 64

    /// Scales a duration by the local health multiplier (Lifeguard LHA-Probe).
    func scaled(_ d: Duration) -> Duration { d * Double(awareness + 1) }

    mutating func adjustAwareness(_ delta: Int) {
        awareness = min(max(awareness + delta, 0), config.awarenessMaxMultiplier)
    }

    /// Start of a protocol period: conclude the previous probe, pick the next member, ping it.
    /// The sequence number is random: an ack must name it, and come with the target's tag.
    mutating func probeTick() {
        guard !hasLeft else { return }
        concludeProbe()
        schedule(.probe, after: scaled(config.probeInterval))
        guard let target = nextProbeTarget(), let address = address(of: target) else { return }
        let seq = nextSeq()
        probe = ProbeState(seq: seq, target: target, address: address, sentAt: now)
        stats.probes += 1
        var updates = [Update]()
        var budget = config.maxPacketSize - 64 - GossipCodec.trailerSize
        // Lifeguard's buddy system: a suspect hears of its suspicion from whoever probes it.
        if let m = table[target], m.state == .suspect, let c = m.claim {
            let u = Update(.claim(c), hops: m.hops)
            updates.append(u)
            budget -= u.encodedSize
        }
        updates += queue.take(budget: budget, now: now)
        send(.ping(seq: seq, from: id, target: target, updates: updates), to: target, at: address)
        schedule(.probeTimeout(seq: seq), after: scaled(config.probeTimeout))
    }

    mutating func nextProbeTarget() -> NodeID? {
        while !probeFirst.isEmpty {
            let hinted = probeFirst.removeFirst()
            if hinted != id, let m = table[hinted], m.state.isLive, m.isNode { return hinted }
        }
        let order = table.order
        guard order.count > 1 else { return nil }
        for _ in 0..<order.count {
            let candidate = order[cursor.next(count: order.count, using: &rng)]
            if candidate != id, let m = table[candidate], m.state.isLive { return candidate }
        }
        return nil
    }

    /// No direct ack in time: ask k members to probe for us (SWIM §4.1), and expect their nacks.
    /// The direct ping is sent once more too (memberlist sends a TCP ping at this point): most
    /// failed probes on a lossy link are one lost packet, and each false suspicion costs the
    /// whole cluster a suspicion and a refutation.
    mutating func probeTimedOut(_ seq: UInt32) {
        guard var p = probe, p.seq == seq, !p.indirect else { return }
        send(.ping(seq: seq, from: id, target: p.target, updates: []), to: p.target, at: p.address)
        p.indirect = true
        let helpers = table.randomLive(config.indirectChecks, excluding: [id, p.target], using: &rng)
        p.helpers = helpers
        p.expectedNacks = helpers.count
        probe = p
        stats.indirectProbes += 1
        for h in helpers {
            send(.pingReq(seq: seq, from: id, target: p.target, address: p.address,
                          updates: queue.take(budget: config.maxPacketSize - 112, now: now)), to: h)
        }
    }

    /// End of the protocol period with no ack, direct or relayed: suspect the target.
    mutating func concludeProbe() {
        guard let p = probe else { return }
        probe = nil
        stats.probeFailures += 1
        // Lifeguard: missing nacks mean the problem may be here, not there.
        if p.expectedNacks > 0 {
            adjustAwareness(p.expectedNacks - p.nacks)
        } else {
            adjustAwareness(1)
        }
        guard let m = table[p.target] else { return }
        switch m.state {
        case .alive:
            suspectLocally(p.target, incarnation: m.entry.version.incarnation, confirmedBy: p.nackers)
        case .suspect:
            // Already suspected by someone else: our failed probe is an independent confirmation
            // (Lifeguard §IV.B), which shortens every node's suspicion timeout.
            let c = Claim.make(.suspect, subject: p.target, incarnation: m.claimIncarnation, by: identity)
            if applySuspect(c, hops: 0) { forward([Update(.claim(c), hops: 0)], origin: true) }
            suspicions[p.target]?.firstHand = true
        case .dead, .left:
            break
        }
    }

    /// An ack counts only from whom the ping asked: the probe's target (or, relayed, one of its
    /// helpers), the member being verified, the relay's target.
    mutating func receivedAck(seq: UInt32, from address: PeerAddress, sender: NodeID) {
        if let subject = verifying[seq] {
            guard sender == subject else { return spoofedAck() }
            verifying[seq] = nil
            if address == self.address(of: subject) { prove(address) }
            verificationAnswered(subject)
            return
        }
        if let p = probe, p.seq == seq {
            let direct = sender == p.target
            guard direct || (p.indirect && p.helpers.contains(sender)) else { return spoofedAck() }
            probe = nil
            adjustAwareness(-1)
            if direct && address == p.address { prove(address) }
            if direct && !p.indirect { lastProbeRTT[p.target] = now - p.sentAt }
            return
        }
        if let r = relays[seq] {
            guard sender == r.target else { return spoofedAck() }
            relays[seq] = nil
            send(.ack(seq: r.requesterSeq, from: id, updates: []), to: r.requester, at: r.requesterAddress)
        }
    }

    mutating func spoofedAck() { stats.spoofedAcks += 1 }

    /// Answers a ping with an ack that carries queued updates, no larger than the ping if its
    /// source is unproven, and this node's entry first if the ping carried a stale claim about it.
    mutating func receivedPing(seq: UInt32, from: PeerAddress, sender: NodeID, target: NodeID) {
        guard target == id else {
            stats.misdirected += 1
            return
        }
        var updates = [Update]()
        var room = min(config.maxPacketSize, replyRoom) - GossipCodec.encodedSize(.ack(seq: seq, from: id, updates: []))
        if entryWanted {
            let u = Update(.entry(me), hops: 0)
            if u.encodedSize <= room {
                updates.append(u)
                room -= u.encodedSize
            }
        }
        if room > 0 { updates += queue.take(budget: room, now: now) }
        send(.ack(seq: seq, from: id, updates: updates), to: sender, at: from)
    }

    /// Relays a probe for a member: pings the target at the address the table holds for it (never
    /// one the request names), and relays only the target's own ack.
    mutating func receivedPingReq(seq: UInt32, from: PeerAddress, sender: NodeID, target: NodeID) {
        guard target != id, target != sender, table[target]?.isNode == true, let a = address(of: target),
            relays.count < Self.maxRelays
        else {
            stats.relaysRefused += 1
            return
        }
        let s = nextSeq()
        relays[s] = Relay(requester: sender, requesterAddress: from, requesterSeq: seq, target: target)
        send(.ping(seq: s, from: id, target: target, updates: []), to: target, at: a)
        schedule(.relayTimeout(seq: s), after: config.probeTimeout * 0.8)
    }

    mutating func relayTimedOut(_ seq: UInt32) {
        guard let r = relays.removeValue(forKey: seq) else { return }
        send(.nack(seq: r.requesterSeq, from: id), to: r.requester, at: r.requesterAddress)
    }

    mutating func receivedNack(seq: UInt32, from: NodeID) {
        guard let p = probe, p.seq == seq else { return }  // late: the probe is over
        guard p.helpers.contains(from) else { return spoofedAck() }
        guard !p.nackers.contains(from) else { return }
        probe!.nackers.append(from)
        // Every relay has answered that the target is silent: no need to wait out the period.
        if probe!.nacks >= p.expectedNacks { concludeProbe() }
    }

    /// A datagram whose tag the shell checked under the key this node shares with `sender`. Only
    /// members are heard, and replies to an address that has not proven itself are capped at
    /// what it sent (see `send(_:to:at:)`).
    mutating func receiveDatagram(_ m: GossipMessage, from: PeerAddress, sender: NodeID) {
        guard isMember(sender) else {
            stats.unauthenticated += 1
            return
        }
        switch m {
        case .ping(_, let f, _, _), .ack(_, let f, _), .pingReq(_, let f, _, _, _), .nack(_, let f):
            guard f == sender else {
                stats.unauthenticated += 1
                return
            }
        default: break
        }
        replyTo = from
        replyPeer = sender
        if !proven.contains(from) {
            replyBudget = GossipCodec.encodedSize(m)
            replyPackets = 1
        }
        switch m {
        case .ping(let seq, _, let target, let updates):
            // Updates first: a stale claim about this node is answered inside the ack.
            answeringPing = true
            receiveUpdates(updates)
            answeringPing = false
            receivedPing(seq: seq, from: from, sender: sender, target: target)
        case .ack(let seq, _, let updates):
            receivedAck(seq: seq, from: from, sender: sender)
            receiveUpdates(updates)
        case .pingReq(let seq, _, let target, _, let updates):
            receivedPingReq(seq: seq, from: from, sender: sender, target: target)
            receiveUpdates(updates)
        case .nack(let seq, _):
            receivedNack(seq: seq, from: sender)
        case .push(let updates):
            receiveUpdates(updates)
            // A push needs no answer: the room it leaves proves its address for later grafts.
            if !proven.contains(from) && !isChallenging(from, within: config.probeTimeout) { challenge(sender, at: from) }
        case .ihave(let digests):
            receivedIHave(digests, from: GraftSource(peer: sender, address: from))
        case .graft(let digests):
            receivedGraft(digests, from: from, sender: sender)
        case .challenge(let seq):
            send(.response(seq: seq), to: sender, at: from)
        case .response(let seq):
            receivedResponse(seq: seq, from: from, sender: sender)
        default:
            stats.misdirected += 1
        }
    }
}
