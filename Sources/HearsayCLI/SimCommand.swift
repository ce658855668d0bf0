import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import HearsayModel
import HearsaySim

/// `hearsay sim`: the gossip state machine on thousands of simulated nodes, in virtual time.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run the standard gossip scenarios on a simulated cluster and print the figures.",
        discussion: """
            Scenarios, on one virtual timeline: start (join through one seed, or converged for large N), \
            an idle stretch, a status change, a crash and restart, a partition into two halves and its heal. \
            The same seed gives the same figures (except wall_seconds). See Docs/simulation.md.
            """
    )

    @Option(name: .long, help: "Number of nodes.")
    var nodes = 100

    @Option(name: .long, help: "Datagram loss probability, 0 to 1 (e.g. 0.1 for 10 %).")
    var loss = 0.0

    @Option(name: .long, help: "Random seed: same seed, same run.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Seconds the network stays split in two halves (0: skip the partition scenario; default 10 up to 1,000 nodes, else 0).")
    var partition: Double?

    @Option(name: .long, help: "Seconds of the idle stretch over which idle traffic is measured (0: skip).")
    var idle = 10.0

    @Option(name: .long, help: "Virtual seconds the run lasts at least.")
    var duration = 60.0

    @Option(name: .long, help: "Gossip and network profile: lan or wan.")
    var profile = "lan"

    @Flag(name: .long, inversion: .prefixedNo, help: "Start by joining one seed (default up to 2,000 nodes) or converged.")
    var join: Bool?

    @Flag(name: .long, help: "Encode and decode every simulated message (exercises the codec; slower).")
    var checkWire = false

    @Option(name: .long, help: "Print on standard error every table change about node N (0-based), at every node.")
    var trace: Int?

    @Flag(name: .long, help: "Print progress of the phases on standard error.")
    var verbose = false

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard nodes >= 1 && nodes <= 1_000_000 else { throw ValidationError("--nodes must be between 1 and 1,000,000") }
        guard (0...1).contains(loss) else { throw ValidationError("--loss is a probability between 0 and 1") }
        guard (partition ?? 0) >= 0, duration >= 0, idle >= 0 else {
            throw ValidationError("--partition, --duration and --idle are not negative")
        }
        guard profile == "lan" || profile == "wan" else { throw ValidationError("--profile is lan or wan") }
        if let t = trace, !(0..<nodes).contains(t) { throw ValidationError("--trace names a node from 0 to \(nodes - 1)") }
    }

    func run() throws {
        var o = SimOptions()
        o.nodes = nodes
        o.loss = loss
        o.seed = seed
        o.partition = partition.map { .milliseconds(Int64($0 * 1000)) }
        o.duration = .milliseconds(Int64(duration * 1000))
        o.idle = .milliseconds(Int64(idle * 1000))
        o.gossip = profile == "wan" ? .wan : .lan
        o.network = profile == "wan" ? .wan(loss: loss) : .lan(loss: loss)
        o.join = join
        o.trace = trace
        let toStderr: (String) -> Void = { emitLine("sim: " + $0, fd: 2) }
        let report = ScenarioRunner.run(o, checkWire: checkWire, log: verbose ? toStderr : nil, trace: trace != nil ? toStderr : nil)
        print(json ? report.json() : report.table())
    }
}
