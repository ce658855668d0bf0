/// What a `StreamMachine` asks of its shell, in order.
public enum StreamDirective: Hashable, Sendable {
    /// Write these bytes to the peer: our stream header, a stanza.
    case write([UInt8])
    /// Both stream headers are exchanged: stanzas flow. `peer` is the peer's instance name (the
    /// name we dialed, the `from` of its header, or the one candidate), `nil` if unknown.
    case opened(peer: String?)
    /// A chat message arrived: store and show it. Attribute it to the stream's peer
    /// (`StreamMachine.peer`), not to the stanza's `from`, which the peer writes as it likes.
    case deliver(MessageStanza)
    /// This message was not written (the stream closed or never opened, or too many were
    /// waiting for it to open): keep it in the outbox for the next stream.
    case notSent(MessageStanza)
    /// Write `</stream:stream>` (`StreamHeader.end`). The machine then waits for the peer's end
    /// (or `StreamConfiguration.closeGraceMillis`) and asks for `closeTransport`.
    case sendStreamEnd
    /// Close the TCP connection now, writing nothing more: no stream end.
    case closeTransport(StreamCloseReason)
}

/// Why a stream closed (for logs and metrics; none is sent to the peer).
public enum StreamCloseReason: Hashable, Sendable {
    /// The shell refused the stream (`refuse()`: another stream replaced it, the address
    /// belongs to nobody we know, ...).
    case refused
    /// The shell closed it (`close(nowMillis:)`) while it was busy: TCP closed without a stream end.
    case abandoned
    /// The peer's header named someone we did not expect (`nil`: it named nobody, and the
    /// address is shared by several candidates).
    case unknownPeer(String?)
    /// (Receiver) the peer's header `to` named none of our local names (`nil`: it named nobody,
    /// and we have several).
    case unknownLocal(String?)
    /// The peer's header did not come within `StreamConfiguration.headerTimeoutMillis`.
    case headerTimeout
    /// The peer's XML was refused by the parser.
    case badXML(XMLStreamError)
    /// The peer sent `<stream:error>` with this condition.
    case peerStreamError(String)
    /// The peer ended its stream; we answered with ours.
    case peerEnded
    /// We ended the stream (idle, or a quiet `close`) and the peer answered or the grace ran out.
    case ended
    /// The TCP connection closed under us (`transportClosed(nowMillis:)`).
    case transportClosed
}
