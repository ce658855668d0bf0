#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HearsayModel

/// The figures of one `hearsay sim` run. Keys of the JSON form are stable (snake_case).
public struct SimReport: Codable, Sendable {
    public var nodes: Int
    public var seed: UInt64
    public var loss: Double
    public var profile: String
    public var start: String
    public var virtual_seconds: Double

    public var join_seconds: Double?
    /// A status change reaching every live node, and 99 % of them: forwarding hops (rounds) and seconds.
    public var rounds_to_all: Int?
    public var rounds_to_99pct: Int?
    public var seconds_to_all: Double?
    public var seconds_to_99pct: Double?
    /// The same in units of the gossip interval, for comparison with tick-driven gossip.
    public var gossip_intervals_to_all: Double?
    public var sends_per_node_per_update: Double?

    public var detect_first_seconds: Double?
    public var detect_all_seconds: Double?
    public var false_positives: Int
    /// A crashed node restarted with a higher incarnation, until every node lists it alive again.
    public var rejoin_seconds: Double?
    public var partition_heal_seconds: Double?

    public var bytes_per_node_per_second: Double
    public var packets_per_node_per_second: Double
    public var idle_bytes_per_node_per_second: Double?
    public var idle_packets_per_node_per_second: Double?

    public var events: Int
    /// The most deliveries and timers pending at once, per node: grows with N when every node
    /// holds state about many others (a partition), flat otherwise.
    public var peak_queued_events_per_node: Double?
    public var wall_seconds: Double
    public var notes: [String]

    public func json(pretty: Bool = false) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        return String(decoding: try! enc.encode(self), as: UTF8.self)
    }

    /// A human table.
    public func table() -> String {
        func f(_ v: Double?, _ digits: Int = 3) -> String {
            guard let v else { return "—" }
            return fixedPoint(v, digits: digits)
        }
        func i(_ v: Int?) -> String { v.map(String.init) ?? "—" }
        var rows: [(String, String)] = [
            ("nodes", "\(nodes) (\(start)), \(profile) profile, loss \(f(loss * 100, 1)) %, seed \(seed)"),
            ("join: all list all", join_seconds.map { "\(f($0)) s" } ?? "— (started converged)"),
            ("status change → all", "\(f(seconds_to_all, 4)) s, \(i(rounds_to_all)) hops (99 %: \(f(seconds_to_99pct, 4)) s, \(i(rounds_to_99pct)) hops)"),
            ("full-entry sends per node", f(sends_per_node_per_update, 2)),
            ("crash → first suspects", detect_first_seconds.map { "\(f($0)) s" } ?? "—"),
            ("crash → dead everywhere", detect_all_seconds.map { "\(f($0)) s" } ?? "—"),
            ("restart → alive everywhere", rejoin_seconds.map { "\(f($0)) s" } ?? "—"),
            ("false positives", "\(false_positives)"),
            ("partition heal", partition_heal_seconds.map { "\(f($0)) s" } ?? "—"),
            ("traffic per node", "\(f(bytes_per_node_per_second, 0)) B/s, \(f(packets_per_node_per_second, 1)) pkt/s"),
            ("idle traffic per node", "\(f(idle_bytes_per_node_per_second, 0)) B/s, \(f(idle_packets_per_node_per_second, 1)) pkt/s"),
            ("simulated", "\(f(virtual_seconds, 1)) virtual s, \(events) events, \(f(wall_seconds, 2)) wall s"),
            ("peak queued events", peak_queued_events_per_node.map { "\(f($0, 1)) per node" } ?? "—"),
        ]
        rows += notes.map { ("note", $0) }
        let w = rows.map(\.0.count).max() ?? 0
        return rows.map { leftAligned($0.0, w) + "  " + $0.1 }.joined(separator: "\n")
    }
}
