import Gossip
import HearsayModel
import Testing

@testable import HearsaySim

/// What a simulated node costs must not grow with N in the default run of a large cluster
/// (issue 11, point 10: `hearsay sim --nodes 10000` grew past 18 GB). The measure is the
/// simulator's peak of pending deliveries and timers per node, which follows each node's
/// per-member state (suspicions, queued updates, grafts): deterministic, unlike resident memory.
@Suite struct ScaleTests {
    /// A converged cluster keeps about 9 per node whatever N (probe, sync, reap and gossip timers,
    /// the packets in flight); a partition of two halves gives each node timers and updates about
    /// every node on the other side (85 per node at 80 nodes, 229 at 200).
    static let flatBound = 30.0

    static func short(_ o: inout SimOptions) {
        o.idle = .seconds(1)
        o.duration = .seconds(15)
    }

    /// Above the limits the default run starts converged and makes no partition (joining is
    /// skipped here to keep the test short: it is the other quadratic phase, up to `joinLimit`).
    @Test("a default run above the partition limit keeps the state per node flat")
    func defaultLargeRunIsLinear() {
        var o = SimOptions()
        o.nodes = SimOptions.partitionLimit + 1
        o.join = false
        Self.short(&o)
        let r = ScenarioRunner.run(o)
        let perNode = r.peak_queued_events_per_node ?? .infinity
        #expect(perNode < Self.flatBound, "\(perNode) queued events per node at \(o.nodes) nodes")
        #expect(r.partition_heal_seconds == nil)
        #expect(r.notes.contains { $0.hasPrefix("no partition") }, "\(r.notes)")
        #expect(r.detect_all_seconds != nil && r.rejoin_seconds != nil)
    }

    @Test("the measure sees a partition: state per node grows with the other side")
    func partitionGrowsPerNodeState() {
        var o = SimOptions()
        o.nodes = 80
        o.join = false
        o.partition = SimOptions.defaultPartition
        Self.short(&o)
        let r = ScenarioRunner.run(o)
        #expect((r.peak_queued_events_per_node ?? 0) > Self.flatBound)
        #expect(r.partition_heal_seconds != nil)
    }

    @Test("the partition's default: on up to the limit, off above it, explicit always wins")
    func partitionDefault() {
        var o = SimOptions()
        o.nodes = SimOptions.partitionLimit
        #expect(o.partitionLength == SimOptions.defaultPartition)
        o.nodes = 10_000
        #expect(o.partitionLength == .zero)
        o.partition = .seconds(3)
        #expect(o.partitionLength == .seconds(3))
        o.partition = .zero
        o.nodes = 10
        #expect(o.partitionLength == .zero)
    }
}
