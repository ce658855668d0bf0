import Gossip
import HearsayModel

/// Watches a simulation: traffic, who knows whom, and the spread of tracked changes.
/// Everything is updated incrementally from directives, so checks are O(1) per event.
public final class SimMetrics {
    // Traffic.
    public private(set) var bytes = 0
    public private(set) var packets = 0
    public private(set) var bytesByType: [String: Int] = [:]

    // Membership views.
    var index: [NodeID: Int] = [:]
    var up: [Bool] = []
    /// Per observer: how many other nodes it holds alive or suspect.
    var knownLive: [Int] = []
    /// Observers that list every other up node as live (valid while `target` is set).
    public private(set) var complete = 0
    var completeTarget = -1

    /// Spread of one entry version (a status change).
    public struct Spread {
        public let subject: NodeID
        public let precedence: Precedence
        public let start: Instant
        public var reachedAt: [Instant?]
        public var hops: [UInt8]
        public var reached = 0
        public var fullSends = 0
    }
    public private(set) var spread: Spread?

    /// Detection of one crashed node.
    public struct Detection {
        public let subject: NodeID
        public let start: Instant
        public var firstSuspect: Instant?
        public var deadAt: [Instant?]
        public var dead = 0
    }
    public private(set) var detection: Detection?

    /// Live nodes some node declared dead, outside windows where that is expected (partitions).
    public private(set) var falsePositives: Set<Int> = []
    /// The first few false positives, for the report: (when, observer, subject).
    public private(set) var falsePositiveLog: [(Instant, Int, Int)] = []
    public var expectingDeaths = false
    public private(set) var expectedDeaths = 0

    func resize(_ n: Int, ids: [NodeID]) {
        up = Array(repeating: false, count: n)
        knownLive = Array(repeating: 0, count: n)
        for (i, id) in ids.enumerated() { index[id] = i }
    }

    func nodeStarted(_ i: Int, knownLive k: Int) {
        up[i] = true
        knownLive[i] = k
        recountComplete()
    }

    func nodeStopped(_ i: Int) {
        up[i] = false
        recountComplete()
    }

    var upCount: Int { up.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Makes `complete` count observers that list every other up node (O(n), on membership change only).
    public func recountComplete() {
        completeTarget = upCount - 1
        complete = 0
        for i in up.indices where up[i] && knownLive[i] >= completeTarget { complete += 1 }
    }

    public var allComplete: Bool { complete == upCount }

    func sent(from i: Int, message m: GossipMessage, bytes b: Int, packets p: Int) {
        bytes += b
        packets += p
        bytesByType[m.name, default: 0] += b
        guard var s = spread else { return }
        var n = 0
        switch m {
        case .syncRecords(let records, _):
            n = records.count { $0.entry.id == s.subject && Precedence.entry($0.entry.version) == s.precedence }
        case .syncRequest(let r):
            n = r.records.count { $0.entry.id == s.subject && Precedence.entry($0.entry.version) == s.precedence }
        default:
            n = m.updates.count { $0.entry.map { $0.id == s.subject && Precedence.entry($0.version) == s.precedence } ?? false }
        }
        if n > 0 {
            s.fullSends += n
            spread = s
        }
    }

    /// Prints every change any node makes about this node index (`hearsay sim --trace`).
    public var traceSubject: Int?
    public var traceSink: ((String) -> Void)?

    func observed(by i: Int, _ e: MembershipEvent) {
        if let t = traceSubject, index[e.id] == t, let sink = traceSink {
            sink("\(e.at) node \(i): \(e.previous.map(\.description) ?? "-") -> \(e.state.map(\.description) ?? "forgotten") at \(e.precedence), \(e.hops) hops")
        }
        let wasLive = e.previous?.isLive ?? false
        let isLive = e.state?.isLive ?? false
        if e.id != e.entry.owner { return }  // foreign entries are not members
        if let j = index[e.id], j != i, wasLive != isLive {
            let before = knownLive[i]
            knownLive[i] += isLive ? 1 : -1
            if up[i] {
                if before >= completeTarget && knownLive[i] < completeTarget { complete -= 1 }
                if before < completeTarget && knownLive[i] >= completeTarget { complete += 1 }
            }
            _ = j
        }
        if e.state == .dead, let j = index[e.id], up[j] {
            if expectingDeaths {
                expectedDeaths += 1
            } else {
                falsePositives.insert(j)
                if falsePositiveLog.count < 5 { falsePositiveLog.append((e.at, i, j)) }
            }
        }
        if var s = spread, e.id == s.subject, s.reachedAt[i] == nil, Precedence.entry(e.entry.version) >= s.precedence {
            s.reachedAt[i] = e.at
            s.hops[i] = e.hops
            s.reached += 1
            spread = s
        }
        if var d = detection, e.id == d.subject {
            if d.firstSuspect == nil && (e.state == .suspect || e.state == .dead) { d.firstSuspect = e.at }
            if e.state == .dead && d.deadAt[i] == nil {
                d.deadAt[i] = e.at
                d.dead += 1
            }
            detection = d
        }
    }

    public func track(spreadOf subject: NodeID, at precedence: Precedence, from start: Instant, origin: Int) {
        var s = Spread(subject: subject, precedence: precedence, start: start,
                       reachedAt: Array(repeating: nil, count: up.count), hops: Array(repeating: 0, count: up.count))
        s.reachedAt[origin] = start
        s.reached = 1
        spread = s
    }

    public func stopTrackingSpread() -> Spread? {
        defer { spread = nil }
        return spread
    }

    public func track(detectionOf subject: NodeID, from start: Instant) {
        detection = Detection(subject: subject, start: start, firstSuspect: nil, deadAt: Array(repeating: nil, count: up.count))
    }

    public func stopTrackingDetection() -> Detection? {
        defer { detection = nil }
        return detection
    }

    public func resetTraffic() {
        bytes = 0
        packets = 0
        bytesByType = [:]
    }
}
