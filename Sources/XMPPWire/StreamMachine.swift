/// One link-local XMPP stream pair over one TCP connection (XEP-0174 "Establishing XML Streams",
/// "Exchanging Messages", "Ending a Chat"), as a sans-IO state machine: inputs are method calls
/// (bytes received, a message to send, a timer tick, the transport closing), outputs are
/// `StreamDirective`s for the shell, time is the `nowMillis` argument.
///
/// - The **initiator** (we dialed) writes its header at `start`; the **receiver** answers the
///   peer's header with its own. Our header's `from` is exactly our published instance name and
///   its `to` the peer's (finch closes a stream whose `from` it cannot match to a buddy).
/// - Several local names (a node standing in for other users on one port): the receiver answers
///   as the one its peer's header `to` names, and refuses the stream (TCP closed) if it names
///   none; the initiator speaks as the name it is given (`local`).
/// - A header without `version` is accepted and none is sent; `<stream:features>` is neither
///   sent nor expected (finch never sends it) and ignored if it comes.
/// - Messages sent before both headers are exchanged wait in a bounded queue (finch does the
///   same with its own), then go out in order.
/// - A `</stream:stream>` is written on our own initiative only when the stream is quiet (idle
///   timeout, or `close` after `quietBeforeStreamEndMillis` without traffic): finch 2.14.12
///   crashes when a stream it opened is ended right after our header or its first message. A
///   refused, failed or busy stream is closed at the TCP level (`.closeTransport`), no stream end.
///   The peer's stream end is answered with ours, then TCP is closed.
/// - `iq` get/set stanzas get a `service-unavailable` error (RFC 6120 §8.3.3.19); `presence`
///   and other stanzas are ignored.
///
/// A reference type because it owns its parser (`XMLStreamParser`); use it from one thread.
public final class StreamMachine {
    public enum Role: Hashable, Sendable {
        /// We dialed `peer` (its instance name, as discovered).
        case initiator(peer: String)
        /// The peer dialed us. `candidates`: the instance names resolved to its address; its
        /// header's `from` must be one of them (or, without `from`, there must be exactly one).
        /// `nil` accepts anyone.
        case receiver(candidates: [String]?)
    }

    public enum State: Hashable, Sendable {
        /// Waiting for the peer's stream header.
        case awaitingHeader
        /// Both headers exchanged.
        case open
        /// We wrote our stream end; waiting for the peer's until `deadline`.
        case ending(deadline: Int64)
        case closed(StreamCloseReason)
    }

    /// The instance names we answer to ("ann@host", and names we stand in for), as published;
    /// the first is the initiator's. A receiver picks the one its peer's header `to` names.
    public let localNames: [String]
    /// Our instance name on this stream: the initiator's (the first of `localNames`); for a
    /// receiver, the one the peer's header `to` named (with a single name and no `to`, that
    /// name), `nil` until the header came.
    public private(set) var local: String?
    /// Our instance name on this stream (`local`), or the first of `localNames` before it is known.
    public var localName: String { local ?? localNames[0] }
    public let role: Role
    public let configuration: StreamConfiguration
    public private(set) var state: State = .awaitingHeader
    /// The peer's instance name: the one dialed, or (receiver) learned from its header.
    public private(set) var peer: String?
    /// The parser of the peer's stream (exposed for its `bufferedBytes`).
    public let parser: XMLStreamParser

    private var queue: [MessageStanza] = []
    private let startedAt: Int64
    private var lastActivity: Int64

    /// One stream with one local name.
    public convenience init(
        localName: String, role: Role, configuration: StreamConfiguration = StreamConfiguration(), nowMillis: Int64
    ) {
        self.init(localNames: [localName], role: role, configuration: configuration, nowMillis: nowMillis)
    }

    /// - Parameter localNames: not empty. An initiator speaks as the first; a receiver as the one
    ///   its peer's header `to` names (ASCII case-insensitively), and refuses the stream (TCP
    ///   closed, `.unknownLocal`) if `to` names none, or if there is no `to` and several names.
    public init(
        localNames: [String], role: Role, configuration: StreamConfiguration = StreamConfiguration(), nowMillis: Int64
    ) {
        precondition(!localNames.isEmpty, "a stream needs a local name")
        self.localNames = localNames
        self.role = role
        self.configuration = configuration
        parser = XMLStreamParser(limits: configuration.limits)
        startedAt = nowMillis
        lastActivity = nowMillis
        if case .initiator(let name) = role {
            peer = name
            local = localNames[0]
        }
    }

    public var isOpen: Bool { state == .open }

    /// The first directives: the initiator's header; nothing for the receiver, which waits.
    public func start() -> [StreamDirective] {
        guard case .initiator(let name) = role, state == .awaitingHeader else { return [] }
        return [.write(StreamHeader.bytes(from: local ?? localNames[0], to: name))]
    }

    /// Bytes from the peer, in any chunking.
    public func received(_ bytes: some Collection<UInt8>, nowMillis: Int64) -> [StreamDirective] {
        guard !isClosed else { return [] }
        lastActivity = nowMillis
        var out: [StreamDirective] = []
        for event in parser.feed(bytes) {
            guard !isClosed else { break }
            switch event {
            case .streamOpened(let header): out += peerHeader(header)
            case .stanza(let element): out += stanza(element)
            case .streamClosed:
                if case .ending = state {
                    out += close(.ended)
                } else {
                    out.append(.sendStreamEnd)
                    out += close(.peerEnded)
                }
            case .error(let error): out += close(.badXML(error))
            }
        }
        return out
    }

    /// A message to the peer. `from` and `to` default to our name and the peer's.
    public func send(_ message: MessageStanza, nowMillis: Int64) -> [StreamDirective] {
        switch state {
        case .open:
            lastActivity = nowMillis
            return [.write(addressed(message).bytes)]
        case .awaitingHeader where queue.count < configuration.maxQueuedMessages:
            queue.append(message)
            return []
        case .awaitingHeader, .ending, .closed:
            return [.notSent(message)]
        }
    }

    /// Timers: the header timeout, the idle timeout, the end of the closing grace.
    public func tick(nowMillis: Int64) -> [StreamDirective] {
        switch state {
        case .awaitingHeader where nowMillis - startedAt >= configuration.headerTimeoutMillis:
            return close(.headerTimeout)
        case .open where nowMillis - lastActivity >= configuration.idleTimeoutMillis:
            state = .ending(deadline: nowMillis + configuration.closeGraceMillis)
            return [.sendStreamEnd]
        case .ending(let deadline) where nowMillis >= deadline:
            return close(.ended)
        default:
            return []
        }
    }

    /// When `tick` next has something to do, if ever.
    public var nextDeadlineMillis: Int64? {
        switch state {
        case .awaitingHeader: startedAt + configuration.headerTimeoutMillis
        case .open: lastActivity + configuration.idleTimeoutMillis
        case .ending(let deadline): deadline
        case .closed: nil
        }
    }

    /// The shell wants the stream closed (shutting down, another stream replaced it): a stream
    /// end if the stream is open and quiet, otherwise TCP closed without one.
    public func close(nowMillis: Int64) -> [StreamDirective] {
        switch state {
        case .open where nowMillis - lastActivity >= configuration.quietBeforeStreamEndMillis:
            state = .ending(deadline: nowMillis + configuration.closeGraceMillis)
            return [.sendStreamEnd]
        case .ending, .closed:
            return []
        case .open, .awaitingHeader:
            return close(.abandoned)
        }
    }

    /// Refuses the stream: TCP closed, never a stream end.
    public func refuse() -> [StreamDirective] {
        isClosed ? [] : close(.refused)
    }

    /// The TCP connection closed (the peer, or an error): queued messages come back.
    public func transportClosed(nowMillis: Int64) -> [StreamDirective] {
        guard !isClosed else { return [] }
        state = .closed(.transportClosed)
        return drainQueue()
    }

    // MARK: -

    private var isClosed: Bool { if case .closed = state { true } else { false } }

    private func close(_ reason: StreamCloseReason) -> [StreamDirective] {
        state = .closed(reason)
        return [.closeTransport(reason)] + drainQueue()
    }

    private func drainQueue() -> [StreamDirective] {
        defer { queue = [] }
        return queue.map { .notSent($0) }
    }

    private func addressed(_ message: MessageStanza) -> MessageStanza {
        var m = message
        if m.from == nil { m.from = local ?? localNames[0] }
        if m.to == nil { m.to = peer }
        return m
    }

    /// The peer's header: check who it says it is, answer (receiver), open, flush the queue.
    private func peerHeader(_ header: XMLElement) -> [StreamDirective] {
        let from = header[attribute: "from"]
        var out: [StreamDirective] = []
        switch role {
        case .initiator(let expected):
            if let from, !Self.sameName(from, expected) { return close(.unknownPeer(from)) }
        case .receiver(let candidates):
            if let candidates {
                if let from {
                    guard let match = candidates.first(where: { Self.sameName($0, from) }) else {
                        return close(.unknownPeer(from))
                    }
                    peer = match
                } else if candidates.count == 1 {
                    peer = candidates[0]
                } else {
                    return close(.unknownPeer(nil))
                }
            } else {
                peer = from
            }
            let to = header[attribute: "to"]
            if let to {
                guard let match = localNames.first(where: { Self.sameName($0, to) }) else {
                    return close(.unknownLocal(to))
                }
                local = match
            } else if localNames.count == 1 {
                local = localNames[0]
            } else {
                return close(.unknownLocal(nil))
            }
            out.append(.write(StreamHeader.bytes(from: local ?? localNames[0], to: peer)))
        }
        state = .open
        out.append(.opened(peer: peer))
        out += queue.map { .write(addressed($0).bytes) }
        queue = []
        return out
    }

    private func stanza(_ element: XMLElement) -> [StreamDirective] {
        switch (element.namespace, element.name) {
        case (XMPPNamespace.streams, "error"):
            let condition = element.elements.first?.name ?? "undefined-condition"
            return close(.peerStreamError(condition))
        case (XMPPNamespace.streams, _):
            return []  // <stream:features>: nothing to negotiate
        case (XMPPNamespace.client, "iq"):
            return Self.iqError(for: element, from: local ?? localNames[0]).map { [.write($0.bytes())] } ?? []
        default:
            return MessageStanza(element).map { [.deliver($0)] } ?? []
        }
    }

    /// The `service-unavailable` answer to an `iq` get or set (results and errors get none).
    static func iqError(for iq: XMLElement, from: String) -> XMLElement? {
        guard let type = iq[attribute: "type"], type == "get" || type == "set" else { return nil }
        var attributes = [XMLAttribute("type", "error")]
        if let id = iq[attribute: "id"] { attributes.append(XMLAttribute("id", id)) }
        if let to = iq[attribute: "from"] { attributes.append(XMLAttribute("to", to)) }
        attributes.append(XMLAttribute("from", from))
        let condition = XMLElement("service-unavailable", namespace: "urn:ietf:params:xml:ns:xmpp-stanzas")
        let error = XMLElement(
            "error", namespace: XMPPNamespace.client, attributes: [XMLAttribute("type", "cancel")],
            children: [.element(condition)])
        return XMLElement("iq", namespace: XMPPNamespace.client, attributes: attributes, children: [.element(error)])
    }

    /// Instance names compare as DNS names do: ASCII letters case-insensitively, other bytes as
    /// they are (RFC 4343).
    static func sameName(_ a: String, _ b: String) -> Bool {
        func fold(_ c: UInt8) -> UInt8 { (65...90).contains(c) ? c + 32 : c }
        return a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { fold($0) == fold($1) }
    }
}
