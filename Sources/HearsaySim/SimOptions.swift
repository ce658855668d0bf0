import Gossip

/// What `hearsay sim` runs. Defaults reproduce the standard scenarios on a LAN.
public struct SimOptions: Sendable {
    public var nodes = 100
    public var seed: UInt64 = 1
    /// Datagram loss probability, 0...1 (the network model's).
    public var loss: Double {
        get { network.loss }
        set { network.loss = newValue }
    }
    /// Virtual seconds the whole run lasts at least (phases that need longer extend it).
    public var duration: Duration = .seconds(60)
    /// How long the network is split in two halves; zero skips the partition scenario. `nil`:
    /// `defaultPartition` when nodes ≤ `partitionLimit`, else skipped. While split, every node
    /// holds a suspicion, a death, a queued update and timers about each of the N/2 on the other
    /// side, and its table diverges from the others': state and work grow as N² (2,000 nodes:
    /// 3 GB; 10,000: tens of GB).
    public var partition: Duration? = nil
    public static let defaultPartition: Duration = .seconds(10)
    public static let partitionLimit = 1_000
    public var gossip: GossipConfig = .lan
    public var network: NetworkModel = .lan()
    /// `nil`: join through one seed when nodes ≤ `joinLimit`, else start from a converged table.
    public var join: Bool? = nil
    public static let joinLimit = 2_000
    /// Nodes start at uniform random times in this window (processes do not start in lockstep).
    public var startWindow: Duration = .seconds(1)
    /// Idle stretch (no changes) over which idle traffic is measured.
    public var idle: Duration = .seconds(10)

    /// Print every table change about this node index, at every node.
    public var trace: Int?

    public init() {}

    public var joins: Bool { join ?? (nodes <= Self.joinLimit) }

    /// The partition this run makes (zero: none).
    public var partitionLength: Duration { partition ?? (nodes <= Self.partitionLimit ? Self.defaultPartition : .zero) }
}
