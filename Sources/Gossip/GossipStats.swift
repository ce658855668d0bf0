/// Counters kept by the state machine: what it refused and why, and what it did. The shell adds
/// bytes and packets. (Exporting both as metrics comes with the networked node.)
public struct GossipStats: Sendable, Hashable, Codable {
    /// Entries whose signature did not verify against the key their id is derived from.
    public var rejectedForged = 0
    /// Updates older than or equal to what the table holds (normal in gossip: duplicates).
    public var stale = 0
    /// Claims or tombstones about members this node does not know.
    public var unknownSubject = 0
    /// Pings meant for another node id at this address (e.g. a restarted peer).
    public var misdirected = 0
    public var applied = 0
    public var refutations = 0
    /// Claims about this node at an incarnation it cannot have published (forged): ignored.
    public var implausibleClaims = 0
    /// Stale claims about this node answered with its current entry.
    public var reassertions = 0
    public var probes = 0
    public var probeFailures = 0
    public var indirectProbes = 0
    public var suspicionsRaised = 0
    /// Suspicions this node only heard of, checked with its own pings before declaring death.
    public var verifications = 0
    /// ... of which the member answered (a refutation had been missed).
    public var verificationsAnswered = 0
    public var deathsDeclared = 0
    public var graftsSent = 0
    public var syncsStarted = 0
    public var syncsEqual = 0
    public var eagerPackets = 0
    /// Updates not eagerly pushed because the eager token bucket was empty (a storm).
    public var eagerSkipped = 0
    public var lazyPackets = 0
    /// Datagrams from an id that is not a node in the table, or whose `from` is not their sender.
    public var unauthenticated = 0
    /// Replies not sent because they would have exceeded what an unproven source sent.
    public var amplificationRefused = 0
    /// Address challenges sent (a ping that proves a source can receive at its address).
    public var challenges = 0
    /// Acks and nacks from someone other than whom the probe asked: ignored.
    public var spoofedAcks = 0
    /// Claims at an incarnation above the subject's entry held here: nobody could have made them
    /// against a real entry.
    public var claimsAhead = 0
    /// Claims by a claimant this node does not know (so cannot check): dropped.
    public var unknownClaimant = 0
    /// Death claims taken only as suspicion: this node had not suspected the member long enough.
    public var deathsDowngraded = 0
    /// Ping-reqs from non-members, or beyond the relay cap: not relayed.
    public var relaysRefused = 0
    /// New foreign entries refused: their observer already has `maxForeignPerOwner` in the table.
    public var foreignOverLimit = 0
    /// Anti-entropy frames whose rest was dropped after `maxForgedPerFrame` forged entries.
    public var framesAbandoned = 0

    public init() {}

    /// Adds every counter of `b` to `a` (totals over many instances).
    public static func += (a: inout GossipStats, b: GossipStats) {
        a.rejectedForged += b.rejectedForged; a.stale += b.stale; a.unknownSubject += b.unknownSubject
        a.misdirected += b.misdirected; a.applied += b.applied; a.refutations += b.refutations
        a.implausibleClaims += b.implausibleClaims; a.reassertions += b.reassertions; a.probes += b.probes
        a.probeFailures += b.probeFailures; a.indirectProbes += b.indirectProbes
        a.suspicionsRaised += b.suspicionsRaised; a.deathsDeclared += b.deathsDeclared
        a.verifications += b.verifications; a.verificationsAnswered += b.verificationsAnswered
        a.graftsSent += b.graftsSent; a.syncsStarted += b.syncsStarted; a.syncsEqual += b.syncsEqual
        a.eagerPackets += b.eagerPackets; a.eagerSkipped += b.eagerSkipped; a.lazyPackets += b.lazyPackets
        a.unauthenticated += b.unauthenticated; a.amplificationRefused += b.amplificationRefused
        a.challenges += b.challenges; a.spoofedAcks += b.spoofedAcks; a.claimsAhead += b.claimsAhead
        a.unknownClaimant += b.unknownClaimant; a.deathsDowngraded += b.deathsDowngraded
        a.relaysRefused += b.relaysRefused; a.foreignOverLimit += b.foreignOverLimit
        a.framesAbandoned += b.framesAbandoned
    }
}
