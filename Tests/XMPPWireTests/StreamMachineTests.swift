import Testing
import XMPPWire

/// Two `StreamMachine`s on one simulated TCP connection: what one writes, the other receives, in
/// chunks of `chunk` bytes.
final class Wire {
    let ann: StreamMachine  // the initiator
    let bob: StreamMachine  // the receiver
    var now: Int64 = 0
    var chunk = 7
    /// Everything but `.write` each side asked of its shell, in order.
    var annSaw: [StreamDirective] = []
    var bobSaw: [StreamDirective] = []
    /// All bytes each side wrote.
    var annWrote: [UInt8] = []
    var bobWrote: [UInt8] = []

    init(bobCandidates: [String]? = ["ann@host"], configuration: StreamConfiguration = StreamConfiguration()) {
        ann = StreamMachine(
            localName: "ann@host", role: .initiator(peer: "bob@pc"), configuration: configuration, nowMillis: 0)
        bob = StreamMachine(
            localName: "bob@pc", role: .receiver(candidates: bobCandidates), configuration: configuration, nowMillis: 0)
    }

    /// Carries out directives until both sides are quiet (`.sendStreamEnd` is recorded and written).
    func pump(fromAnn: [StreamDirective] = [], fromBob: [StreamDirective] = []) {
        var toBob = fromAnn, toAnn = fromBob
        for _ in 0..<100 where !(toBob.isEmpty && toAnn.isEmpty) {
            var nextToAnn: [StreamDirective] = [], nextToBob: [StreamDirective] = []
            for d in toBob {
                if d == .sendStreamEnd { annSaw.append(d) }
                if let bytes = Self.bytes(d) {
                    annWrote += bytes
                    for i in stride(from: 0, to: bytes.count, by: chunk) {
                        nextToAnn += bob.received(bytes[i..<min(i + chunk, bytes.count)], nowMillis: now)
                    }
                } else if d != .sendStreamEnd { annSaw.append(d) }
            }
            for d in toAnn {
                if d == .sendStreamEnd { bobSaw.append(d) }
                if let bytes = Self.bytes(d) {
                    bobWrote += bytes
                    for i in stride(from: 0, to: bytes.count, by: chunk) {
                        nextToBob += ann.received(bytes[i..<min(i + chunk, bytes.count)], nowMillis: now)
                    }
                } else if d != .sendStreamEnd { bobSaw.append(d) }
            }
            toAnn = nextToAnn
            toBob = nextToBob
        }
    }

    static func bytes(_ d: StreamDirective) -> [UInt8]? {
        switch d {
        case .write(let bytes): bytes
        case .sendStreamEnd: StreamHeader.end
        default: nil
        }
    }

    func open() { pump(fromAnn: ann.start(), fromBob: bob.start()) }
}

func delivered(_ seen: [StreamDirective]) -> [String] {
    seen.compactMap { if case .deliver(let m) = $0 { m.body } else { nil } }
}

func wroteStreamEnd(_ seen: [StreamDirective], _ bytes: [UInt8]) -> Bool {
    seen.contains(.sendStreamEnd) || String(decoding: bytes, as: UTF8.self).contains("</stream:stream>")
}

@Suite struct StreamMachineTests {
    @Test func initiatorAndReceiverOpenAndTalkBothWays() {
        let w = Wire()
        w.open()
        #expect(w.ann.isOpen && w.bob.isOpen)
        #expect(w.annSaw == [.opened(peer: "bob@pc")])
        #expect(w.bobSaw == [.opened(peer: "ann@host")])
        w.pump(fromAnn: w.ann.send(MessageStanza(body: "hi bob, a<b & c 😀"), nowMillis: 1))
        w.pump(fromBob: w.bob.send(MessageStanza(body: "hi ann, é > ü"), nowMillis: 2))
        w.pump(fromAnn: w.ann.send(MessageStanza(body: "line 1\nline 2"), nowMillis: 3))
        #expect(delivered(w.bobSaw) == ["hi bob, a<b & c 😀", "line 1\nline 2"])
        #expect(delivered(w.annSaw) == ["hi ann, é > ü"])
        // Addressed as finch expects: from = our instance name, to = theirs.
        for case .deliver(let m) in w.bobSaw { #expect(m.from == "ann@host" && m.to == "bob@pc" && m.type == "chat") }
        #expect(!wroteStreamEnd(w.annSaw + w.bobSaw, w.annWrote + w.bobWrote))
    }

    @Test func ourHeadersCarryFromAndToAsGiven() {
        let w = Wire()
        w.open()
        let annHeader = String(decoding: w.annWrote, as: UTF8.self)
        let bobHeader = String(decoding: w.bobWrote, as: UTF8.self)
        #expect(annHeader.hasSuffix("from='ann@host' to='bob@pc'>"))
        #expect(bobHeader.hasSuffix("from='bob@pc' to='ann@host'>"))
        #expect(!annHeader.split(separator: "<stream:stream").last!.contains("version"))
        #expect(annHeader.hasPrefix("<?xml version='1.0' encoding='UTF-8'?><stream:stream xmlns='jabber:client' "))
    }

    @Test func messagesSentBeforeTheStreamOpensWaitThenGoInOrder() {
        let w = Wire()
        let start = w.ann.start()
        #expect(w.ann.send(MessageStanza(body: "one"), nowMillis: 0).isEmpty)
        #expect(w.ann.send(MessageStanza(body: "two"), nowMillis: 0).isEmpty)
        w.pump(fromAnn: start, fromBob: w.bob.start())
        #expect(delivered(w.bobSaw) == ["one", "two"])
    }

    /// finch as the initiator: a header without `version`, double quotes, no features; it waits
    /// for our header before sending its message.
    @Test func finchStyleHeaderIsAccepted() {
        let bob = StreamMachine(
            localName: "ann@host", role: .receiver(candidates: ["bob@pc", "carol@pc"]), nowMillis: 0)
        #expect(bob.start().isEmpty)
        let header = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<stream:stream xmlns=\"jabber:client\" "
            + "xmlns:stream=\"http://etherx.jabber.org/streams\" from=\"bob@pc\" to=\"ann@host\">"
        let out = bob.received(Array(header.utf8), nowMillis: 5)
        #expect(out == [.write(StreamHeader.bytes(from: "ann@host", to: "bob@pc")), .opened(peer: "bob@pc")])
        let message = "<message to=\"ann@host\" from=\"bob@pc\" type=\"chat\"><body>a&lt;b &amp; c</body>"
            + "<html xmlns=\"http://www.w3.org/1999/xhtml\"><body><font>a&lt;b &amp; c</font></body></html>"
            + "<x xmlns=\"jabber:x:event\"><composing/></x></message>"
        let got = bob.received(Array(message.utf8), nowMillis: 6)
        #expect(got == [.deliver(MessageStanza(from: "bob@pc", to: "ann@host", type: "chat", body: "a<b & c"))])
    }

    @Test func headerWithoutFromAndOneCandidate() {
        let m = StreamMachine(localName: "ann@host", role: .receiver(candidates: ["bob@pc"]), nowMillis: 0)
        let out = m.received(Array((bareOpen + ">").utf8), nowMillis: 1)
        #expect(out.last == .opened(peer: "bob@pc"))
        #expect(m.local == "ann@host")
    }

    /// A node standing in for dave@relay on ann's port: finch's header names dave, and the
    /// stream is dave's (case-insensitively, as DNS names).
    @Test func receiverWithSeveralNamesAnswersAsTheOneNamedByTo() {
        let m = StreamMachine(
            localNames: ["ann@a", "dave@relay"], role: .receiver(candidates: ["finch@c"]), nowMillis: 0)
        #expect(m.local == nil)
        let header = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<stream:stream xmlns=\"jabber:client\" "
            + "xmlns:stream=\"http://etherx.jabber.org/streams\" from=\"finch@c\" to=\"Dave@Relay\">"
        let out = m.received(Array(header.utf8), nowMillis: 1)
        #expect(out == [.write(StreamHeader.bytes(from: "dave@relay", to: "finch@c")), .opened(peer: "finch@c")])
        #expect(String(decoding: StreamHeader.bytes(from: "dave@relay", to: "finch@c"), as: UTF8.self)
            .hasSuffix("from='dave@relay' to='finch@c'>"))
        #expect(m.local == "dave@relay" && m.localName == "dave@relay")
        // Our messages and iq answers on this stream are dave's.
        let sent = m.send(MessageStanza(body: "hi"), nowMillis: 2)
        #expect(sent == [.write(MessageStanza(from: "dave@relay", to: "finch@c", type: "chat", body: "hi").bytes)])
        let iq = m.received(Array("<iq type='get' id='q'><query xmlns='jabber:iq:version'/></iq>".utf8), nowMillis: 3)
        guard case .write(let bytes) = iq.first else { Issue.record("\(iq)"); return }
        #expect(String(decoding: bytes, as: UTF8.self).contains("from='dave@relay'"))
    }

    @Test func headerToAnUnknownLocalNameIsRefusedWithoutStreamEnd() {
        let m = StreamMachine(
            localNames: ["ann@a", "dave@relay"], role: .receiver(candidates: ["finch@c"]), nowMillis: 0)
        _ = m.send(MessageStanza(id: "q", body: "waiting"), nowMillis: 0)
        let out = m.received(StreamHeader.bytes(from: "finch@c", to: "eve@relay"), nowMillis: 1)
        #expect(out == [.closeTransport(.unknownLocal("eve@relay")), .notSent(MessageStanza(id: "q", body: "waiting"))])
        #expect(m.state == .closed(.unknownLocal("eve@relay")))
        #expect(m.local == nil)
        // A single name is checked too.
        let one = StreamMachine(localName: "ann@a", role: .receiver(candidates: nil), nowMillis: 0)
        #expect(one.received(StreamHeader.bytes(from: "x@y", to: "bob@b"), nowMillis: 1)
            == [.closeTransport(.unknownLocal("bob@b"))])
    }

    @Test func headerWithoutToNeedsASingleLocalName() {
        let two = StreamMachine(localNames: ["ann@a", "dave@relay"], role: .receiver(candidates: nil), nowMillis: 0)
        #expect(two.received(Array((bareOpen + " from='finch@c'>").utf8), nowMillis: 1)
            == [.closeTransport(.unknownLocal(nil))])
        let one = StreamMachine(localNames: ["ann@a"], role: .receiver(candidates: nil), nowMillis: 0)
        #expect(one.received(Array((bareOpen + " from='finch@c'>").utf8), nowMillis: 1)
            == [.write(StreamHeader.bytes(from: "ann@a", to: "finch@c")), .opened(peer: "finch@c")])
        #expect(one.local == "ann@a")
    }

    @Test func initiatorSpeaksAsItsFirstLocalName() {
        let m = StreamMachine(localNames: ["dave@relay", "ann@a"], role: .initiator(peer: "finch@c"), nowMillis: 0)
        #expect(m.local == "dave@relay")
        #expect(m.start() == [.write(StreamHeader.bytes(from: "dave@relay", to: "finch@c"))])
        // The answer's `to` is not checked by the initiator.
        #expect(m.received(StreamHeader.bytes(from: "finch@c", to: "someone@else"), nowMillis: 1) == [.opened(peer: "finch@c")])
    }

    @Test func unknownPeerIsRefusedWithoutStreamEnd() {
        let w = Wire(bobCandidates: ["carol@pc"])
        w.open()
        #expect(w.bob.state == .closed(.unknownPeer("ann@host")))
        #expect(w.bobSaw == [.closeTransport(.unknownPeer("ann@host"))])
        #expect(!wroteStreamEnd(w.bobSaw, w.bobWrote))
    }

    @Test func initiatorChecksTheNameInTheAnswer() {
        let m = StreamMachine(localName: "ann@host", role: .initiator(peer: "bob@pc"), nowMillis: 0)
        _ = m.start()
        let out = m.received(Array(StreamHeader.bytes(from: "mallory@pc", to: "ann@host")), nowMillis: 1)
        #expect(out == [.closeTransport(.unknownPeer("mallory@pc"))])
        let ok = StreamMachine(localName: "ann@host", role: .initiator(peer: "Bob@PC"), nowMillis: 0)
        #expect(ok.received(StreamHeader.bytes(from: "bob@pc", to: nil), nowMillis: 1) == [.opened(peer: "Bob@PC")])
    }

    @Test func refuseNeverSendsAStreamEnd() {
        // Right after our header, and right after its first message: finch's crash states.
        let w = Wire()
        w.open()
        #expect(w.bob.refuse() == [.closeTransport(.refused)])
        #expect(w.bob.refuse().isEmpty)
        let v = Wire()
        v.open()
        v.pump(fromAnn: v.ann.send(MessageStanza(body: "first"), nowMillis: 0))
        #expect(v.bob.refuse() == [.closeTransport(.refused)])
        let fresh = StreamMachine(localName: "x@y", role: .receiver(candidates: nil), nowMillis: 0)
        #expect(fresh.refuse() == [.closeTransport(.refused)])
    }

    @Test func closeWhenBusyIsATransportCloseAndWhenQuietAStreamEnd() {
        let w = Wire()
        w.open()
        w.now = 1_000
        w.pump(fromAnn: w.ann.send(MessageStanza(body: "first"), nowMillis: 1_000))
        #expect(w.bob.close(nowMillis: 1_500) == [.closeTransport(.abandoned)])

        let q = Wire()
        q.open()
        q.now = 60_000
        q.pump(fromBob: q.bob.close(nowMillis: 60_000))
        // The initiator answers with its own end and closes; the receiver closes on it.
        #expect(q.annSaw == [.opened(peer: "bob@pc"), .sendStreamEnd, .closeTransport(.peerEnded)])
        #expect(q.bobSaw == [.opened(peer: "ann@host"), .sendStreamEnd, .closeTransport(.ended)])
    }

    @Test func idleStreamsEndLateWithAGrace() {
        let config = StreamConfiguration()
        let w = Wire(configuration: config)
        w.open()
        #expect(w.ann.tick(nowMillis: config.idleTimeoutMillis - 1).isEmpty)
        #expect(w.ann.nextDeadlineMillis == config.idleTimeoutMillis)
        #expect(w.ann.tick(nowMillis: config.idleTimeoutMillis) == [.sendStreamEnd])
        #expect(w.ann.tick(nowMillis: config.idleTimeoutMillis + config.closeGraceMillis) == [.closeTransport(.ended)])
        #expect(w.ann.nextDeadlineMillis == nil)
    }

    @Test func trafficKeepsAStreamOpen() {
        let w = Wire()
        w.open()
        let idle = w.ann.configuration.idleTimeoutMillis
        w.now = idle - 10
        w.pump(fromBob: w.bob.send(MessageStanza(body: "still here"), nowMillis: w.now))
        #expect(w.ann.tick(nowMillis: idle + 5).isEmpty)
    }

    @Test func headerTimeoutClosesTheTransport() {
        let m = StreamMachine(localName: "ann@host", role: .initiator(peer: "bob@pc"), nowMillis: 0)
        _ = m.start()
        _ = m.send(MessageStanza(body: "waiting"), nowMillis: 0)
        #expect(m.tick(nowMillis: 29_999).isEmpty)
        let expired = m.tick(nowMillis: 30_000)
        #expect(expired == [.closeTransport(.headerTimeout), .notSent(MessageStanza(body: "waiting"))])
    }

    @Test func queueIsBoundedAndReturnedWhenTheTransportCloses() {
        let m = StreamMachine(localName: "a@b", role: .initiator(peer: "c@d"),
                              configuration: StreamConfiguration(maxQueuedMessages: 2), nowMillis: 0)
        #expect(m.send(MessageStanza(body: "1"), nowMillis: 0).isEmpty)
        #expect(m.send(MessageStanza(body: "2"), nowMillis: 0).isEmpty)
        #expect(m.send(MessageStanza(body: "3"), nowMillis: 0) == [.notSent(MessageStanza(body: "3"))])
        let back = m.transportClosed(nowMillis: 1)
        #expect(back == [.notSent(MessageStanza(body: "1")), .notSent(MessageStanza(body: "2"))])
        #expect(m.send(MessageStanza(body: "4"), nowMillis: 2) == [.notSent(MessageStanza(body: "4"))])
    }

    @Test func hostileXMLClosesTheTransportWithoutStreamEnd() {
        let w = Wire()
        w.open()
        let out = w.bob.received(Array("<message><!DOCTYPE x></message>".utf8), nowMillis: 1)
        guard case .closeTransport(.badXML(let e)) = out.first else { Issue.record("\(out)"); return }
        #expect(e.reason == .malformed)
        #expect(!out.contains(.sendStreamEnd))
        #expect(w.bob.received(Array("<message/>".utf8), nowMillis: 2).isEmpty)
    }

    @Test func streamErrorFromThePeerClosesTheTransport() {
        let w = Wire()
        w.open()
        let err = "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
        #expect(w.ann.received(Array(err.utf8), nowMillis: 1) == [.closeTransport(.peerStreamError("conflict"))])
    }

    @Test func featuresAndPresenceAreIgnoredAndIqGetsAnError() {
        let w = Wire()
        w.open()
        #expect(w.ann.received(Array("<stream:features/><presence/>".utf8), nowMillis: 1).isEmpty)
        let query = "<iq type='get' id='v1' from='bob@pc'><query xmlns='jabber:iq:version'/></iq>"
        let out = w.ann.received(Array(query.utf8), nowMillis: 2)
        #expect(out == [.write(Array(("<iq type='error' id='v1' to='bob@pc' from='ann@host'><error type='cancel'>"
            + "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>").utf8))])
        #expect(w.ann.received(Array("<iq type='result' id='v2'/>".utf8), nowMillis: 3).isEmpty)
    }

    @Test func transportClosedByThePeer() {
        let w = Wire()
        w.open()
        #expect(w.ann.transportClosed(nowMillis: 1).isEmpty)
        #expect(w.ann.state == .closed(.transportClosed))
        #expect(w.ann.received(Array("<message/>".utf8), nowMillis: 2).isEmpty)
    }
}
