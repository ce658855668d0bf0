import Gossip
import HearsayModel
import HearsaySim
import Testing

/// Whole-cluster behaviour, in virtual time, through the deterministic simulator.
@Suite struct ClusterSimulationTests {
    static func sim(_ n: Int, seed: UInt64, network: NetworkModel = .lan()) -> Simulator {
        let sim = Simulator(config: .lan, network: network, seed: seed)
        sim.addNodes(n)
        return sim
    }

    static func ids(_ sim: Simulator) -> [NodeID] { sim.nodes.map(\.identity.id) }

    static func states(of id: NodeID, in sim: Simulator) -> [MemberState?] {
        sim.nodes.compactMap { $0.instance }.map { $0.table[id]?.state }
    }

    @Test func thirtyNodesJoiningOneSeedAllListEveryone() throws {
        let sim = Self.sim(30, seed: 1)
        sim.start(0, seeds: [])
        for i in 1..<30 { sim.start(i, seeds: [0]) }
        sim.run(until: Fx.at(15)) { sim.metrics.allComplete }
        #expect(sim.now < Fx.at(15))
        let ids = Self.ids(sim)
        for (i, node) in sim.nodes.enumerated() {
            let inst = try #require(node.instance)
            #expect(inst.joined || i == 0)  // the seed joined no one
            #expect(inst.table.liveCount == 30, "\(inst.id) lists \(inst.table.liveCount)")
            #expect(ids.allSatisfy { inst.table[$0]?.state == .alive })
        }
    }

    @Test func statusChangeReachesEveryone() throws {
        let sim = Self.sim(30, seed: 2)
        sim.startConverged()
        sim.run(until: Fx.at(2))
        let subject = Self.ids(sim)[5]
        sim.act(5) { inst, now in try! inst.setStatus(.busy, text: "in a meeting", now: now) }
        sim.run(until: Fx.at(5))
        for node in sim.nodes {
            let row = try #require(node.instance?.table[subject])
            #expect(row.entry.entry.status == .busy)
            #expect(row.entry.entry.statusText == "in a meeting")
            #expect(row.entry.version == EntryVersion(incarnation: 1, sequence: 1))
        }
    }

    @Test func crashedNodeIsDeadEverywhereWithin30Seconds() throws {
        let sim = Self.sim(30, seed: 3)
        sim.startConverged()
        sim.run(until: Fx.at(2))
        let victim = Self.ids(sim)[7]
        sim.crash(7)
        sim.run(until: Fx.at(32))
        for (i, node) in sim.nodes.enumerated() where i != 7 {
            let inst = try #require(node.instance)
            #expect(inst.table[victim]?.state == .dead, "node \(i) holds it \(String(describing: inst.table[victim]?.state))")
            #expect(inst.table.liveCount == 29)
        }
        #expect(sim.metrics.falsePositives.isEmpty)
    }

    @Test func healedPartitionConverges() throws {
        let n = 20
        let sim = Self.sim(n, seed: 4)
        sim.startConverged()
        sim.run(until: Fx.at(2))
        sim.metrics.expectingDeaths = true
        sim.partition((0..<n).map { UInt8($0 < n / 2 ? 0 : 1) })
        sim.run(until: Fx.at(22))
        // Each half has given up on the other.
        let ids = Self.ids(sim)
        for (i, node) in sim.nodes.enumerated() {
            let inst = try #require(node.instance)
            #expect(inst.table.liveCount == n / 2)
            let other = i < n / 2 ? ids[(n / 2)...] : ids[..<(n / 2)]
            #expect(other.allSatisfy { inst.table[$0]?.state == .dead })
        }
        #expect(Set(sim.nodes.compactMap { $0.instance?.table.root }).count > 1)

        sim.heal()
        sim.run(until: Fx.at(52))
        let roots = Set(sim.nodes.compactMap { $0.instance?.table.root })
        #expect(roots.count == 1, "\(roots.count) different roots")
        for node in sim.nodes {
            let inst = try #require(node.instance)
            #expect(inst.table.liveCount == n, "\(inst.id) lists \(inst.table.liveCount) live")
        }
    }

    @Test func tenPercentLossDeclaresNoLiveNodeDead() throws {
        let sim = Self.sim(30, seed: 5, network: .lan(loss: 0.1))
        sim.startConverged()
        sim.run(until: Fx.at(120))
        #expect(sim.metrics.falsePositives.isEmpty, "declared dead: \(sim.metrics.falsePositives.sorted())")
        for id in Self.ids(sim) {
            #expect(!Self.states(of: id, in: sim).contains(.dead))
            #expect(!Self.states(of: id, in: sim).contains(nil))
        }
        #expect(sim.nodes.allSatisfy { $0.instance?.table.liveCount == 30 })
        // The loss did bite: probes failed and their targets were suspected, then refuted in time.
        let stats = sim.nodes.compactMap { $0.instance?.stats }
        #expect(stats.reduce(0) { $0 + $1.suspicionsRaised } > 0)
        #expect(stats.reduce(0) { $0 + $1.refutations } > 0)
        #expect(stats.reduce(0) { $0 + $1.deathsDeclared } == 0)
    }
}
