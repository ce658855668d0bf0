import HearsayModel

/// The probe in flight (SWIM §4.1): one per protocol period.
struct ProbeState: Sendable {
    let seq: UInt32
    let target: NodeID
    let address: PeerAddress
    let sentAt: Instant
    var indirect = false
    var expectedNacks = 0
    /// Relays that reported the target silent to them too: independent evidence.
    var nackers: [NodeID] = []
    var nacks: Int { nackers.count }
}

/// An indirect probe this node relays for a requester.
struct Relay: Sendable {
    let requester: PeerAddress
    let requesterSeq: UInt32
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
    /// Scales a duration by the local health multiplier (Lifeguard LHA-Probe).
    func scaled(_ d: Duration) -> Duration { d * Double(awareness + 1) }

    mutating func adjustAwareness(_ delta: Int) {
        awareness = min(max(awareness + delta, 0), config.awarenessMaxMultiplier)
    }

    /// Start of a protocol period: conclude the previous probe, pick the next member, ping it.
    mutating func probeTick() {
        guard !hasLeft else { return }
        concludeProbe()
        schedule(.probe, after: scaled(config.probeInterval))
        guard let target = nextProbeTarget(), let address = address(of: target) else { return }
        probeSeq &+= 1
        probe = ProbeState(seq: probeSeq, target: target, address: address, sentAt: now)
        stats.probes += 1
        var updates = [Update]()
        var budget = config.maxPacketSize - 64
        // Lifeguard's buddy system: a suspect hears of its suspicion from whoever probes it.
        if let m = table[target], m.state == .suspect {
            let u = Update(.suspect(id: target, incarnation: m.claimIncarnation, from: m.claimant), hops: m.hops)
            updates.append(u)
            budget -= u.encodedSize
        }
        updates += queue.take(budget: budget, now: now)
        send(.ping(seq: probeSeq, from: id, target: target, updates: updates), to: address)
        schedule(.probeTimeout(seq: probeSeq), after: scaled(config.probeTimeout))
    }

    mutating func nextProbeTarget() -> NodeID? {
        while !probeFirst.isEmpty {
            let hinted = probeFirst.removeFirst()
            if hinted != id, let m = table[hinted], m.state.isLive { return hinted }
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
        send(.ping(seq: seq, from: id, target: p.target, updates: []), to: p.address)
        p.indirect = true
        let helpers = table.randomLive(config.indirectChecks, excluding: [id, p.target], using: &rng)
        p.expectedNacks = helpers.count
        probe = p
        stats.indirectProbes += 1
        for h in helpers {
            guard let a = address(of: h) else { continue }
            send(.pingReq(seq: seq, from: id, target: p.target, address: p.address,
                          updates: queue.take(budget: config.maxPacketSize - 80, now: now)), to: a)
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
            let u = Update(.suspect(id: p.target, incarnation: m.claimIncarnation, from: id), hops: 0)
            if applySuspect(p.target, incarnation: m.claimIncarnation, from: id, hops: 0) { forward([u], origin: true) }
            suspicions[p.target]?.firstHand = true
        case .dead, .left:
            break
        }
    }

    mutating func receivedAck(seq: UInt32, from: NodeID) {
        if let subject = verifying.removeValue(forKey: seq) {
            verificationAnswered(subject)
            return
        }
        if let p = probe, p.seq == seq {
            probe = nil
            adjustAwareness(-1)
            if !p.indirect { lastProbeRTT[p.target] = now - p.sentAt }
            return
        }
        if let r = relays.removeValue(forKey: seq) {
            send(.ack(seq: r.requesterSeq, from: id, updates: []), to: r.requester)
        }
    }

    mutating func receivedPing(seq: UInt32, from: PeerAddress, target: NodeID) {
        guard target == id else {
            stats.misdirected += 1
            return
        }
        send(.ack(seq: seq, from: id, updates: queue.take(budget: config.maxPacketSize - 24, now: now)), to: from)
    }

    mutating func receivedPingReq(seq: UInt32, from: PeerAddress, target: NodeID, address: PeerAddress) {
        probeSeq &+= 1
        relays[probeSeq] = Relay(requester: from, requesterSeq: seq)
        send(.ping(seq: probeSeq, from: id, target: target, updates: []), to: address)
        schedule(.relayTimeout(seq: probeSeq), after: config.probeTimeout * 0.8)
    }

    mutating func relayTimedOut(_ seq: UInt32) {
        guard let r = relays.removeValue(forKey: seq) else { return }
        send(.nack(seq: r.requesterSeq, from: id), to: r.requester)
    }

    mutating func receivedNack(seq: UInt32, from: NodeID) {
        guard let p = probe, p.seq == seq, !p.nackers.contains(from) else { return }
        probe!.nackers.append(from)
        // Every relay has answered that the target is silent: no need to wait out the period.
        if probe!.nacks >= p.expectedNacks { concludeProbe() }
    }

    mutating func receiveDatagram(_ m: GossipMessage, from: PeerAddress) {
        switch m {
        case .ping(let seq, _, let target, let updates):
            receivedPing(seq: seq, from: from, target: target)
            receiveUpdates(updates, from: from)
        case .ack(let seq, let sender, let updates):
            receivedAck(seq: seq, from: sender)
            receiveUpdates(updates, from: from)
        case .pingReq(let seq, _, let target, let address, let updates):
            receivedPingReq(seq: seq, from: from, target: target, address: address)
            receiveUpdates(updates, from: from)
        case .nack(let seq, let sender):
            receivedNack(seq: seq, from: sender)
        case .push(let updates):
            receiveUpdates(updates, from: from)
        case .ihave(let digests):
            receivedIHave(digests, from: from)
        case .graft(let digests):
            receivedGraft(digests, from: from)
        default:
            stats.misdirected += 1
        }
    }
}
