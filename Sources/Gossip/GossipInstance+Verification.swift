import HearsayModel

/// A suspect member being checked by this node before it declares it dead.
struct Verification: Sendable {
    var seq: UInt32
    var attempt: Int
}

extension GossipInstance {
    /// Pings per verification: at 10 % loss two pings and their acks all fail with p ≈ 0.036.
    static let verificationPings = 2

    /// This node heard that `subject` is suspect but never failed to reach it itself, and the
    /// suspicion ran out unrefuted. Before declaring it dead, it pings the member directly,
    /// carrying the claim (Lifeguard's buddy system): a member that is alive answers, and, seeing
    /// a claim it has already refuted, sends its current entry back (`reassert`). Silence to
    /// `verificationPings` pings is death.
    ///
    /// This is Hearsay's addition to SWIM/Lifeguard: it makes a false positive need a node that
    /// missed the refutation *and* lost its own pings, instead of only the former. First-hand
    /// suspecters (whose probe failed) declare at their deadline as Lifeguard does, so the
    /// detection of a real crash is not delayed.
    mutating func verify(_ subject: NodeID) {
        guard verifications[subject] == nil else { return }
        stats.verifications += 1
        sendVerificationPing(subject, attempt: 1)
    }

    mutating func sendVerificationPing(_ subject: NodeID, attempt: Int) {
        guard let m = table[subject], m.state == .suspect, let a = address(of: subject) else { return }
        let seq = nextSeq()
        verifying[seq] = subject
        verifications[subject] = Verification(seq: seq, attempt: attempt)
        // The claim, and this node's entry: room for the subject's refutation in its ack.
        var updates = [Update(.entry(me), hops: 0)]
        if let c = m.claim { updates.insert(Update(.claim(c), hops: m.hops), at: 0) }
        send(.ping(seq: seq, from: id, target: subject, updates: updates), to: subject, at: a)
        pending.append(.schedule(.verifyTimeout(subject), at: now + scaled(config.probeTimeout)))
    }

    mutating func verifyTimedOut(_ subject: NodeID) {
        guard let v = verifications[subject] else { return }
        verifying[v.seq] = nil
        guard let m = table[subject], m.state == .suspect else {
            verifications[subject] = nil
            return
        }
        if v.attempt < Self.verificationPings {
            sendVerificationPing(subject, attempt: v.attempt + 1)
        } else {
            verifications[subject] = nil
            declareDead(subject)
        }
    }

    /// The member answered: it is alive, and its current entry is on its way. Give it time to
    /// arrive; if the suspicion runs out again, verify again.
    mutating func verificationAnswered(_ subject: NodeID) {
        verifications[subject] = nil
        stats.verificationsAnswered += 1
        guard var s = suspicions[subject], table[subject]?.state == .suspect else { return }
        s.postpone(to: now + s.min)
        suspicions[subject] = s
        pending.append(.schedule(.suspicion(subject), at: s.deadline))
    }
}
