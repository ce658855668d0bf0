import Gossip
import GossipNIO
import ListenerLimits
import CoreMetrics
import Metrics
import Prometheus

/// The node's metrics (swift-metrics), sampled once a second from the state machine's and the
/// shell's counters. `hearsay metrics` prints them in the Prometheus text format.
final class NodeMetrics: @unchecked Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private var last = (gossip: GossipStats(), wire: ShellCounters())
    private var counters: [String: CoreMetrics.Counter] = [:]
    private var gauges: [String: CoreMetrics.Gauge] = [:]

    init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// The cached metric for a label and dimensions, made on first use.
    private func cached<M>(_ cache: inout [String: M], _ label: String, _ dims: [(String, String)],
                           _ make: () -> M) -> M {
        let key = label + dims.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        if let m = cache[key] { return m }
        let m = make()
        cache[key] = m
        return m
    }

    private func counter(_ label: String, _ dims: [(String, String)] = []) -> CoreMetrics.Counter {
        cached(&counters, label, dims) { CoreMetrics.Counter(label: label, dimensions: dims, factory: factory) }
    }

    private func gauge(_ label: String, _ dims: [(String, String)] = []) -> CoreMetrics.Gauge {
        cached(&gauges, label, dims) { CoreMetrics.Gauge(label: label, dimensions: dims, factory: factory) }
    }

    /// Called once a second on one task: adds the counters' increase since the last sample.
    func sample(_ inst: GossipInstance, _ wire: ShellCounters) {
        func add(_ label: String, _ dims: [(String, String)], _ now: Int, _ before: Int) {
            if now > before { counter(label, dims).increment(by: now - before) }
        }
        add("hearsay_datagrams_total", [("direction", "in")], wire.datagramsIn, last.wire.datagramsIn)
        add("hearsay_datagrams_total", [("direction", "out")], wire.datagramsOut, last.wire.datagramsOut)
        add("hearsay_bytes_total", [("direction", "in")], wire.bytesIn, last.wire.bytesIn)
        add("hearsay_bytes_total", [("direction", "out")], wire.bytesOut, last.wire.bytesOut)
        add("hearsay_stream_messages_total", [("direction", "in")], wire.streamMessagesIn, last.wire.streamMessagesIn)
        add("hearsay_stream_messages_total", [("direction", "out")], wire.streamMessagesOut, last.wire.streamMessagesOut)
        for (reason, n) in wire.dropped { add("hearsay_dropped_total", [("reason", reason)], n, last.wire.dropped[reason] ?? 0) }
        let g = inst.stats, p = last.gossip
        add("hearsay_rejected_total", [("reason", "forged")], g.rejectedForged, p.rejectedForged)
        add("hearsay_rejected_total", [("reason", "stale")], g.stale, p.stale)
        add("hearsay_rejected_total", [("reason", "unknown-subject")], g.unknownSubject, p.unknownSubject)
        add("hearsay_rejected_total", [("reason", "implausible-claim")], g.implausibleClaims, p.implausibleClaims)
        add("hearsay_updates_applied_total", [], g.applied, p.applied)
        add("hearsay_refutations_total", [], g.refutations, p.refutations)
        add("hearsay_probes_total", [], g.probes, p.probes)
        add("hearsay_probe_failures_total", [], g.probeFailures, p.probeFailures)
        add("hearsay_deaths_declared_total", [], g.deathsDeclared, p.deathsDeclared)
        var byState = [String: Int]()
        for m in inst.table.rows.values where m.isNode { byState[m.state.description, default: 0] += 1 }
        for s in MemberState.allCases { gauge("hearsay_members", [("state", s.description)]).record(byState[s.description] ?? 0) }
        gauge("hearsay_health_multiplier").record(inst.awareness)
        last = (g, wire)
    }

    private var lastChat: [String: Int] = [:]

    private var lastStoreFailures = 0

    /// Chat's counters (`hearsay_chat_total{event=...}`: sent, delivered, received, duplicates,
    /// retried, refused handshakes, closes by reason, sessions, messages not stored or refused by
    /// the peer), the outbox's size, and the chat store's failed commits
    /// (`hearsay_chat_store_failures_total`: a full disk shows here first).
    func sampleChat(_ counts: [String: Int], outbox: Int, storeFailures: Int = 0) {
        for (event, n) in counts where n > (lastChat[event] ?? 0) {
            counter("hearsay_chat_total", [("event", event)]).increment(by: n - (lastChat[event] ?? 0))
        }
        lastChat = counts
        gauge("hearsay_chat_outbox").record(outbox)
        let failures = counter("hearsay_chat_store_failures_total")  // listed from the start, at 0
        if storeFailures > lastStoreFailures { failures.increment(by: storeFailures - lastStoreFailures) }
        lastStoreFailures = storeFailures
    }

    private var lastListener: [String: Int] = [:]

    /// What each listener holds (`hearsay_listener_connections{listener,state}`) and has turned
    /// away (`hearsay_listener_refused_total{listener,reason}`: over a cap, no descriptor left
    /// outside the reserve, or closed for staying silent past the pre-auth deadline).
    func sampleListeners(_ admissions: [Admission], descriptors: DescriptorBudget) {
        for a in admissions {
            let f = a.figures
            gauge("hearsay_listener_connections", [("listener", a.listener), ("state", "open")]).record(f.open)
            gauge("hearsay_listener_connections", [("listener", a.listener), ("state", "pending")]).record(f.pending)
            for outcome in AdmissionOutcome.allCases {
                let key = a.listener + "/" + outcome.rawValue, n = f.outcomes[outcome] ?? 0
                let c = counter("hearsay_listener_refused_total", [("listener", a.listener), ("reason", outcome.rawValue)])
                if n > (lastListener[key] ?? 0) { c.increment(by: n - (lastListener[key] ?? 0)) }
                lastListener[key] = n
            }
        }
        gauge("hearsay_descriptors", [("use", "limit")]).record(descriptors.limit)
        gauge("hearsay_descriptors", [("use", "reserve")]).record(descriptors.reserve)
        gauge("hearsay_descriptors", [("use", "accepted")]).record(descriptors.taken)
    }

    func text() -> String { registry.emitToString() }
}
