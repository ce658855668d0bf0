import Gossip
import HearsayModel

/// Runs the standard scenarios on one simulated cluster, one after the other on a single
/// virtual timeline, and measures each:
///
/// 1. start: N nodes join one seed at random moments of `startWindow` (or start converged);
/// 2. idle: `idle` seconds with no change — the steady-state cost;
/// 3. status change: one node changes its status; its spread is followed to every node;
/// 4. crash: one node is killed silently; followed until every node holds it dead;
/// 5. restart: the crashed node comes back with a higher incarnation and rejoins;
/// 6. partition: the cluster is split in two halves for `partition`, then healed; followed
///    until every node's table is identical again;
/// 7. the rest of `duration`, counting false positives (live nodes declared dead) throughout
///    except while the partition is in force and healing.
public enum ScenarioRunner {
    /// - Parameters:
    ///   - log: progress of the phases (`--verbose`).
    ///   - trace: where the changes about `o.trace` go (`--trace`).
    public static func run(
        _ o: SimOptions, checkWire: Bool = false, log: ((String) -> Void)? = nil, trace: ((String) -> Void)? = nil
    ) -> SimReport {
        let wallStart = ContinuousClock.now
        let sim = Simulator(config: o.gossip, network: o.network, seed: o.seed)
        sim.checkWire = checkWire
        sim.metrics.traceSubject = o.trace
        sim.metrics.traceSink = trace
        sim.addNodes(o.nodes)
        let n = o.nodes
        let m = sim.metrics
        var rng = SeededRandom(seed: o.seed &+ 0x5CE7_A110)
        var notes = [String]()
        var report = SimReport(
            nodes: n, seed: o.seed, loss: o.network.loss, profile: o.gossip == .wan ? "wan" : o.gossip == .lan ? "lan" : "custom",
            start: o.joins ? "join through one seed" : "converged", virtual_seconds: 0, false_positives: 0,
            bytes_per_node_per_second: 0, packets_per_node_per_second: 0, events: 0, wall_seconds: 0, notes: [])
        func after(_ d: Duration) -> Instant { sim.now + d }

        func totals() -> GossipStats {
            var st = GossipStats()
            for node in sim.nodes { if let x = node.instance?.stats { st += x } }
            return st
        }

        // 1. Start.
        if o.joins {
            sim.start(0, seeds: [])
            let starts = (1..<max(n, 1)).map { ($0, o.startWindow * rng.unit()) }.sorted { $0.1 < $1.1 }
            for (i, t) in starts {
                sim.run(until: .zero + t)
                sim.start(i, seeds: [0])
            }
            m.recountComplete()
            if let log {
                for _ in 0..<12 where !m.allComplete {
                    sim.run(until: after(.seconds(1))) { m.allComplete }
                    let missing = m.up.indices.filter { m.up[$0] }.reduce(0) { $0 + max(0, m.completeTarget - m.knownLive[$1]) }
                    for (i, node) in sim.nodes.enumerated() where m.up[i] && m.knownLive[i] < m.completeTarget {
                        guard let inst = node.instance else { continue }
                        let absent = sim.nodes.indices.filter { j in
                            j != i && m.up[j] && !(inst.table[sim.nodes[j].identity.id]?.state.isLive ?? false)
                        }
                        log("  node \(i) (joined \(inst.joined)) lacks \(absent.prefix(8)); stats \(inst.stats.syncsStarted) syncs")
                    }
                    log("t=\(sim.now): \(m.complete) complete, \(missing) missing pairs, \(sim.eventsProcessed) events, \(m.bytesByType.sorted { $0.value > $1.value }.prefix(5))")
                }
            }
            sim.run(until: after(.seconds(300))) { m.allComplete }
            if m.allComplete {
                report.join_seconds = sim.now.seconds
            } else {
                notes.append("join: \(m.complete) of \(n) nodes listed all after \(Int(sim.now.seconds)) s")
            }
            log?("join done at \(sim.now)")
        } else {
            sim.startConverged()
            if o.join == nil { notes.append("started converged: joining \(n) nodes is simulated up to \(SimOptions.joinLimit) (use --join)") }
        }
        log?("after start: \(totals())")
        sim.run(until: after(.seconds(2)))
        log?("before idle: \(totals())")

        // 2. Idle.
        if o.idle > .zero {
            let (b0, p0, t0) = (m.bytes, m.packets, sim.now)
            let byType0 = m.bytesByType
            sim.run(until: t0 + o.idle)
            if let log {
                log("totals so far: \(totals())")
                let delta = m.bytesByType.map { ($0.key, $0.value - (byType0[$0.key] ?? 0)) }.filter { $0.1 > 0 }
                log("idle bytes by type: \(delta.sorted { $0.1 > $1.1 }.map { "\($0.0) \($0.1)" }.joined(separator: ", "))")
            }
            let secs = (sim.now - t0).seconds * Double(m.upCount)
            report.idle_bytes_per_node_per_second = Double(m.bytes - b0) / secs
            report.idle_packets_per_node_per_second = Double(m.packets - p0) / secs
            log?("idle done at \(sim.now)")
        }

        // 3. A status change.
        let s = n > 1 ? 1 + rng.below(n - 1) : 0
        if let inst = sim.nodes[s].instance {
            let v = inst.me.version
            let target = Precedence(incarnation: v.incarnation, rank: 0, sequence: v.sequence + 1)
            m.track(spreadOf: inst.id, at: target, from: sim.now, origin: s)
            log?("node \(s) changes its status at \(sim.now)")
            sim.act(s) { inst, now in (try? inst.setStatus(.away, text: "in a meeting", now: now)) ?? [] }
            sim.run(until: after(.seconds(30))) { (m.spread?.reached ?? 0) >= m.upCount }
            let allAt = sim.now
            sim.run(until: after(.seconds(3)))  // let retransmissions happen, to count them
            if let sp = m.stopTrackingSpread() {
                let times = sp.reachedAt.enumerated().filter { sim.nodes[$0.offset].isUp }.compactMap { $0.element }
                    .map { ($0 - sp.start).seconds }.sorted()
                let hops = sp.reachedAt.indices.filter { sp.reachedAt[$0] != nil && $0 != s }.map { Int(sp.hops[$0]) }.sorted()
                if sp.reached >= m.upCount {
                    report.seconds_to_all = (allAt - sp.start).seconds
                    report.rounds_to_all = hops.last ?? 0
                    report.gossip_intervals_to_all = report.seconds_to_all! / o.gossip.gossipInterval.seconds
                } else {
                    notes.append("status change reached \(sp.reached) of \(m.upCount) nodes")
                }
                let k99 = Int((Double(m.upCount) * 0.99).rounded(.up))
                if times.count >= k99 { report.seconds_to_99pct = times[k99 - 1] }
                let h99 = Int((Double(max(m.upCount - 1, 1)) * 0.99).rounded(.up))
                if hops.count >= h99, h99 > 0 { report.rounds_to_99pct = hops[h99 - 1] }
                report.sends_per_node_per_update = Double(sp.fullSends) / Double(m.upCount)
            }
            log?("status change done at \(sim.now): \(totals())")
        }

        // 4. A crash, and 5. the restart.
        let candidates = (1..<max(n, 2)).filter { $0 != s }
        if n >= 3, let c = candidates.isEmpty ? nil : candidates[rng.below(candidates.count)],
            let inst = sim.nodes[c].instance
        {
            let inc = inst.me.version.incarnation
            m.track(detectionOf: inst.id, from: sim.now)
            log?("crashing node \(c) at \(sim.now)")
            sim.crash(c)
            let live = m.upCount
            sim.run(until: after(.seconds(120))) { (m.detection?.dead ?? 0) >= live }
            if let d = m.stopTrackingDetection() {
                report.detect_first_seconds = d.firstSuspect.map { ($0 - d.start).seconds }
                if d.dead >= live { report.detect_all_seconds = (sim.now - d.start).seconds } else {
                    notes.append("crash: \(d.dead) of \(live) nodes held it dead after 120 s")
                }
            }
            log?("crash detected at \(sim.now)")
            sim.run(until: after(.seconds(1)))
            let t0 = sim.now
            sim.restart(c, seeds: [0], incarnation: inc + 1)
            m.recountComplete()
            sim.run(until: after(.seconds(60))) { m.allComplete }
            if m.allComplete {
                report.rejoin_seconds = (sim.now - t0).seconds
            } else {
                notes.append("restart: \(m.complete) of \(m.upCount) nodes listed all after 60 s")
            }
            log?("restart done at \(sim.now)")
        }

        // 6. A partition in two halves, healed.
        if o.partition == nil && o.partitionLength == .zero && n >= 4 {
            notes.append("no partition: split in two halves only up to \(SimOptions.partitionLimit) nodes by default (use --partition)")
        }
        if o.partitionLength > .zero && n >= 4 {
            sim.run(until: after(.seconds(2)))
            var sides = [UInt8](repeating: 0, count: n)
            var ids = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { ids.swapAt(i, rng.below(i + 1)) }
            for i in ids.prefix(n / 2) { sides[i] = 1 }
            m.expectingDeaths = true
            sim.partition(sides)
            sim.run(until: after(o.partitionLength))
            if let log {
                var states = [String: Int]()
                for node in sim.nodes { if let inst = node.instance { for r in inst.table.rows.values { states[r.state.description, default: 0] += 1 } } }
                log("at heal: rows by state \(states.sorted { $0.key < $1.key })")
            }
            sim.heal()
            let healedAt = sim.now
            var converged = false
            while sim.now < healedAt + .seconds(300) {
                sim.run(until: after(.milliseconds(50)))
                if tablesEqual(sim) {
                    converged = true
                    break
                }
            }
            if converged {
                report.partition_heal_seconds = (sim.now - healedAt).seconds
            } else {
                notes.append("partition: tables still differ 300 s after healing")
            }
            sim.run(until: after(.seconds(1)))
            m.expectingDeaths = false
            log?("partition healed at \(sim.now)")
        }

        // 7. The rest of the run.
        if sim.now < .zero + o.duration { sim.run(until: .zero + o.duration) }

        let secs = sim.now.seconds
        report.virtual_seconds = secs
        report.false_positives = m.falsePositives.count
        for (t, observer, subject) in m.falsePositiveLog {
            notes.append("false positive: node \(observer) declared live node \(subject) dead at \(t)")
        }
        report.bytes_per_node_per_second = Double(m.bytes) / Double(n) / secs
        report.packets_per_node_per_second = Double(m.packets) / Double(n) / secs
        report.events = sim.eventsProcessed
        report.peak_queued_events_per_node = Double(sim.peakQueuedEvents) / Double(n)
        report.notes = notes
        report.wall_seconds = (ContinuousClock.now - wallStart).seconds
        return report
    }

    /// Whether every up node holds the same rows at the same precedence, and lists every up node as live.
    static func tablesEqual(_ sim: Simulator) -> Bool {
        var root: UInt64?
        let up = sim.metrics.upCount
        for node in sim.nodes {
            guard let inst = node.instance else { continue }
            if inst.table.liveCount != up { return false }
            if let r = root, r != inst.table.root { return false }
            root = inst.table.root
        }
        return true
    }
}
