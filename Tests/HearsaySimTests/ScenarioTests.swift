import Gossip
import HearsayModel
import Testing

@testable import HearsaySim

/// The standard scenarios on small clusters, with fixed seeds: behaviour, not timing.
@Suite struct ScenarioTests {
    static func options(nodes: Int, seed: UInt64, loss: Double = 0, partition: Int64 = 5, duration: Int64 = 40) -> SimOptions {
        var o = SimOptions()
        o.nodes = nodes
        o.seed = seed
        o.loss = loss
        o.network = .lan(loss: loss)
        o.partition = .seconds(partition)
        o.duration = .seconds(duration)
        o.idle = .seconds(5)
        return o
    }

    @Test("join, status change, crash, restart and partition all converge", arguments: [UInt64(1), 2, 3])
    func standardScenariosConverge(seed: UInt64) {
        let r = ScenarioRunner.run(Self.options(nodes: 40, seed: seed))
        #expect(r.notes.isEmpty, "\(r.notes)")
        #expect(r.join_seconds != nil)
        #expect(r.seconds_to_all != nil)
        #expect(r.rounds_to_all != nil)
        #expect(r.detect_first_seconds != nil)
        #expect(r.detect_all_seconds != nil)
        #expect(r.rejoin_seconds != nil)
        #expect(r.partition_heal_seconds != nil)
        #expect(r.false_positives == 0)
        // A status change is pushed the moment it is learned: far below one 200 ms gossip tick.
        #expect(r.seconds_to_all! < 0.2)
        #expect(r.sends_per_node_per_update! <= Double(GossipConfig.lan.eagerFanout + 2))
    }

    @Test("the same seed gives the same run; another seed another run")
    func deterministic() {
        var a = ScenarioRunner.run(Self.options(nodes: 30, seed: 11))
        var b = ScenarioRunner.run(Self.options(nodes: 30, seed: 11))
        var c = ScenarioRunner.run(Self.options(nodes: 30, seed: 12))
        a.wall_seconds = 0
        b.wall_seconds = 0
        c.wall_seconds = 0
        #expect(a.json() == b.json())
        #expect(a.json() != c.json())
    }

    @Test("every message through the real codec gives exactly the same run")
    func codecIsFaithful() {
        var plain = ScenarioRunner.run(Self.options(nodes: 25, seed: 5))
        var wire = ScenarioRunner.run(Self.options(nodes: 25, seed: 5), checkWire: true)
        plain.wall_seconds = 0
        wire.wall_seconds = 0
        #expect(plain.json() == wire.json())
    }

    @Test("10 % loss for two virtual minutes: no live node declared dead, crash still detected")
    func lossWithoutFalsePositives() {
        let r = ScenarioRunner.run(Self.options(nodes: 40, seed: 21, loss: 0.1, partition: 0, duration: 120))
        #expect(r.false_positives == 0)
        #expect(r.seconds_to_all != nil)
        #expect(r.detect_all_seconds != nil)
        #expect(r.notes.isEmpty, "\(r.notes)")
    }

    @Test("a converged (warm) start behaves like a joined one")
    func warmStart() {
        var o = Self.options(nodes: 60, seed: 8, partition: 0, duration: 30)
        o.join = false
        let r = ScenarioRunner.run(o)
        #expect(r.join_seconds == nil)
        #expect(r.seconds_to_all != nil)
        #expect(r.detect_all_seconds != nil)
        #expect(r.false_positives == 0)
        #expect(r.idle_bytes_per_node_per_second! > 0)
    }
}
