/// The timing and bounds of one link-local XMPP stream (see `StreamMachine`).
public struct StreamConfiguration: Hashable, Sendable {
    /// What the peer's XML may cost (`XMLStreamParser.Limits`).
    public var limits: XMLStreamParser.Limits
    /// The peer's stream header must arrive within this after `start`, or TCP is closed.
    /// 30 s: a LAN peer answers in milliseconds; this only frees silent connections.
    public var headerTimeoutMillis: Int64
    /// An open stream with no traffic either way for this long is ended (with a stream end).
    /// 30 min: streams are kept open (finch keeps one per buddy and replaces it when a new one
    /// comes), and closing late keeps clear of finch's crash on early stream ends.
    public var idleTimeoutMillis: Int64
    /// A stream end on our own initiative (`close`) is sent only after this much quiet; a busier
    /// stream is closed at the TCP level instead. 10 s: finch 2.14.12 crashes when a stream it
    /// opened is ended right after our header or its first message.
    public var quietBeforeStreamEndMillis: Int64
    /// After our stream end, how long to wait for the peer's before closing TCP. 2 s.
    public var closeGraceMillis: Int64
    /// Messages kept while the stream opens; more are handed back as `.notSent`. 64.
    public var maxQueuedMessages: Int

    public init(
        limits: XMLStreamParser.Limits = XMLStreamParser.Limits(), headerTimeoutMillis: Int64 = 30_000,
        idleTimeoutMillis: Int64 = 30 * 60_000, quietBeforeStreamEndMillis: Int64 = 10_000,
        closeGraceMillis: Int64 = 2_000, maxQueuedMessages: Int = 64
    ) {
        precondition(idleTimeoutMillis >= quietBeforeStreamEndMillis, "an idle stream must count as quiet")
        self.limits = limits
        self.headerTimeoutMillis = headerTimeoutMillis
        self.idleTimeoutMillis = idleTimeoutMillis
        self.quietBeforeStreamEndMillis = quietBeforeStreamEndMillis
        self.closeGraceMillis = closeGraceMillis
        self.maxQueuedMessages = maxQueuedMessages
    }
}
