import NIOCore

/// What one listener accepts (issue 11, point 6). A connection is *pending* from its accept until
/// its protocol has proved who is on it (TLS and hellos for chat, the stream header for XMPP, a
/// first whole frame for gossip TCP, a first request for metrics); pending connections have
/// their own, smaller caps, so that silent or slow strangers cannot crowd out real sessions.
public struct ListenerLimits: Sendable, Hashable {
    /// Open connections in all, pending or not.
    public var maxConnections: Int
    /// Pending connections in all.
    public var maxPending: Int
    /// Pending connections from one source address.
    public var maxPendingPerSource: Int
    /// Open connections from one source address.
    public var maxPerSource: Int
    /// How long a connection may stay pending before it is closed; nil: no deadline.
    public var preAuthTimeout: TimeAmount?

    public init(maxConnections: Int, maxPending: Int, maxPendingPerSource: Int, maxPerSource: Int,
                preAuthTimeout: TimeAmount?) {
        self.maxConnections = maxConnections
        self.maxPending = maxPending
        self.maxPendingPerSource = maxPendingPerSource
        self.maxPerSource = maxPerSource
        self.preAuthTimeout = preAuthTimeout
    }
}

/// The limits of every listener of a node, and the descriptors kept out of their reach.
public struct NodeListenerLimits: Sendable, Hashable {
    /// Native chat sessions (TLS): one per peer, so many may be open; few may be in the handshake.
    public var chat = ListenerLimits(maxConnections: 512, maxPending: 64, maxPendingPerSource: 8, maxPerSource: 16,
                                     preAuthTimeout: .seconds(5))
    /// Link-local XMPP streams (Pidgin, finch): one per buddy.
    public var xmpp = ListenerLimits(maxConnections: 256, maxPending: 32, maxPendingPerSource: 8, maxPerSource: 16,
                                     preAuthTimeout: .seconds(5))
    /// Gossip anti-entropy over TCP: short exchanges, a few at a time.
    public var gossipStream = ListenerLimits(maxConnections: 128, maxPending: 32, maxPendingPerSource: 4, maxPerSource: 16,
                                             preAuthTimeout: .seconds(10))
    /// `GET /metrics`: a Prometheus server or two.
    public var metrics = ListenerLimits(maxConnections: 16, maxPending: 8, maxPendingPerSource: 4, maxPerSource: 8,
                                        preAuthTimeout: .seconds(5))
    /// The control API (a Unix socket, this user only): `watch` and `events` clients stay open.
    public var control = ListenerLimits(maxConnections: 128, maxPending: 128, maxPendingPerSource: 128, maxPerSource: 128,
                                        preAuthTimeout: nil)
    /// Bytes that half-received gossip frames may hold in all (each is at most 8 MiB).
    public var gossipFrameBytes = 32 << 20
    /// Descriptors network listeners leave to the rest of the node (the control API, dials of real
    /// sessions, the store, logs): at least this many, or a quarter of the limit if more.
    public var descriptorReserve = 128

    public init() {}

    /// The defaults: a LAN node and an overlay node alike.
    public static let standard = NodeListenerLimits()
}
