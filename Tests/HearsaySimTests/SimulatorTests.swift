import Gossip
import HearsayModel
import Testing

@testable import HearsaySim

@Suite struct SimulatorTests {
    @Test("addresses map to node indices and back")
    func addressing() {
        for i in [0, 1, 255, 256, 65_535, 70_000] {
            #expect(Simulator.index(of: Simulator.address(of: i)) == i)
        }
        #expect(Simulator.index(of: PeerAddress("192.168.1.1:7946")!) == nil)
    }

    @Test("latency: positive, median near the model's, a tail above it")
    func latencyModel() {
        var rng = SeededRandom(seed: 3)
        let net = NetworkModel.lan()
        let samples = (0..<20_000).map { _ in net.latency(using: &rng) }.sorted()
        #expect(samples.first! > 0)
        let median = Double(samples[samples.count / 2]) / 1e3
        #expect(median > 250 && median < 350, "median \(median) µs")
        let p999 = Double(samples[samples.count * 999 / 1000]) / 1e3
        #expect(p999 > 1_000, "p99.9 \(p999) µs")
    }

    @Test("loss drops about the configured share")
    func lossModel() {
        var rng = SeededRandom(seed: 4)
        let net = NetworkModel.lan(loss: 0.1)
        let dropped = (0..<100_000).filter { _ in net.dropped(using: &rng) }.count
        #expect(dropped > 9_000 && dropped < 11_000)
    }

    @Test("a crashed node's timers and packets die with it; a restart comes back with a higher incarnation")
    func crashAndRestart() {
        let sim = Simulator(config: .lan, network: .lan(), seed: 9)
        sim.addNodes(8)
        sim.startConverged()
        sim.run(until: .zero + .seconds(2))
        let victim = sim.nodes[3].identity.id
        sim.crash(3)
        sim.run(until: .zero + .seconds(40))
        for (i, n) in sim.nodes.enumerated() where i != 3 {
            #expect(n.instance?.table[victim]?.state == .dead)
        }
        sim.restart(3, seeds: [0], incarnation: 2)
        sim.run(until: .zero + .seconds(45))
        for n in sim.nodes {
            let m = n.instance?.table[victim]
            #expect(m?.state == .alive)
            #expect(m?.entry.version.incarnation == 2)
        }
    }

    @Test("a partition in force keeps the halves apart")
    func partitionCuts() {
        let sim = Simulator(config: .lan, network: .lan(), seed: 10)
        sim.addNodes(6)
        sim.startConverged()
        sim.partition([0, 0, 0, 1, 1, 1])
        sim.run(until: .zero + .seconds(40))
        let a = sim.nodes[0].instance!.table
        #expect(a[sim.nodes[4].identity.id]?.state == .dead)
        #expect(a[sim.nodes[1].identity.id]?.state == .alive)
        sim.heal()
        sim.run(until: .zero + .seconds(60))
        #expect(ScenarioRunner.tablesEqual(sim))
    }
}
