#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Gossip
import GossipNIO
import HearsayModel

/// The control API's responses. Requests: `ControlRequest` (ControlRequest.swift).
public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    public var error: String?
    public var rows: [TableRow]?
    public var members: [MemberRow]?
    public var node: String?
    /// `stats`: the state machine's counters and the shell's (drops by reason).
    public var gossip: GossipStats?
    public var wire: ShellCounters?
    /// `metrics`: the Prometheus text format.
    public var metrics: String?
    /// `discovery`: how the node finds peers, for `hearsay doctor`.
    public var discovery: DiscoveryReport?
    /// Chat ops: messages (send, history), people (people, friends, conversations), the peer a
    /// history is with, session requests waiting, and a human note (e.g. why a message waits).
    public var messages: [MessageRow]?
    public var people: [PeerRow]?
    public var person: PeerRow?
    public var requests: [RequestRow]?
    public var note: String?

    public init(ok: Bool, error: String? = nil, rows: [TableRow]? = nil, members: [MemberRow]? = nil, node: String? = nil) {
        self.ok = ok
        self.error = error
        self.rows = rows
        self.members = members
        self.node = node
    }
}

/// The node's LAN discovery as `hearsay doctor` reads it (control op `discovery`).
public struct DiscoveryReport: Codable, Sendable, Hashable {
    /// `auto`, `daemon` or `off`.
    public var mode: String
    /// `running`, `waiting`, or `off`, and why.
    public var state: String
    public var detail: String
    /// The DNS-SD instance name published, once established.
    public var instance: String?
    public var bind: String
    /// The addresses in this node's entry.
    public var advertised: [String]
    /// Nodes found through mDNS: id (base32) and their addresses.
    public var peers: [String: [String]]
    /// Records not taken, by reason.
    public var ignored: [String: Int]

    public init(mode: String, state: String, detail: String, instance: String?, bind: String, advertised: [String],
                peers: [String: [String]], ignored: [String: Int]) {
        self.mode = mode
        self.state = state
        self.detail = detail
        self.instance = instance
        self.bind = bind
        self.advertised = advertised
        self.peers = peers
        self.ignored = ignored
    }
}

/// One row of the replicated IM database, as `hearsay table --json` prints it.
public struct TableRow: Codable, Sendable, Hashable {
    public var id: String
    public var handle: String
    public var realm: String
    public var `protocol`: String
    public var addresses: [String]
    public var port: Int
    public var chat_port: Int
    public var status: String
    public var status_text: String
    public var state: String
    public var version: String
    public var incarnation: UInt64
    public var sequence: UInt64
    /// The node that owns and signed the entry (itself, for a native entry).
    public var origin: String
    public var age_seconds: Double
    public var hops: Int

    public init(_ m: Member, now: Instant) {
        let e = m.entry.entry
        id = m.id.base32
        handle = e.handle
        realm = e.realm
        `protocol` = "\(e.protocolName)/\(e.protocolVersion)"
        addresses = e.addresses.map(\.description)
        port = Int(e.gossipPort)
        chat_port = Int(e.chatPort)
        status = e.status.description
        status_text = e.statusText
        state = m.state.description
        version = e.version.description
        incarnation = e.version.incarnation
        sequence = e.version.sequence
        origin = m.entry.owner.base32
        age_seconds = max(0, (now - m.updatedAt).seconds)
        hops = Int(m.hops)
    }
}

/// The SWIM view of one member, as `hearsay members` prints it.
public struct MemberRow: Codable, Sendable, Hashable {
    public var id: String
    public var handle: String
    public var address: String
    public var state: String
    public var incarnation: UInt64
    /// This node's Lifeguard health multiplier (only on its own row).
    public var health: Int?
    public var rtt_ms: Double?
}

enum ControlJSON {
    static func encode<T: Encodable>(_ v: T) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return Array((try? e.encode(v)) ?? Data("{}".utf8)) + [UInt8(ascii: "\n")]
    }
}
