import Conversation
import HearsayModel
import NativeWire
import Testing

/// Two `Connection`s wired back to back through the real codec: what one sends, the other
/// receives as decoded bytes.
struct Pair {
    static let dialerID = NodeID(hi: 1, lo: 1)
    static let listenerID = NodeID(hi: 9, lo: 9)
    var dialer = Connection(me: dialerID, peer: listenerID, role: .dialer, nowMillis: 0)
    var listener = Connection(me: listenerID, peer: dialerID, role: .listener, nowMillis: 0)
    var policy = SessionPolicy.everyone
    var friend = false
    /// Everything but `.send` each side asked of its shell, in order.
    var dialerSaw: [ConnectionAction] = []
    var listenerSaw: [ConnectionAction] = []
    var now: Int64 = 0

    mutating func pump(fromDialer: [ConnectionAction], fromListener: [ConnectionAction] = []) {
        var toListener = fromDialer, toDialer = fromListener
        for _ in 0..<100 where !(toListener.isEmpty && toDialer.isEmpty) {
            var next: [ConnectionAction] = []
            for a in toListener {
                if case .send(let m) = a {
                    let decoded = try! NativeCodec.decode(NativeCodec.encode(m))
                    next += listener.received(decoded, nowMillis: now, policy: policy, isFriend: friend)
                } else { dialerSaw.append(a) }
            }
            var back: [ConnectionAction] = []
            for a in toDialer {
                if case .send(let m) = a {
                    back += dialer.received(try! NativeCodec.decode(NativeCodec.encode(m)), nowMillis: now, policy: .everyone,
                                            isFriend: false)
                } else { listenerSaw.append(a) }
            }
            toDialer = next
            toListener = back
        }
    }

    /// Hellos both ways, then the dialer's session request.
    mutating func open(handle: String = "ann") {
        pump(fromDialer: dialer.start(), fromListener: listener.start())
        pump(fromDialer: dialer.requestSession(handle: handle))
    }
}

@Suite struct ConnectionTests {
    func chat(_ n: UInt64, from sender: NodeID = Pair.dialerID) -> ChatMessage {
        ChatMessage(id: MessageID(hi: 7, lo: n), sender: sender, sentAtMillis: Int64(n), text: "m\(n)")
    }

    @Test func helloThenSessionThenMessagesAndAcks() {
        var p = Pair()
        p.open()
        #expect(p.dialer.state == .open(version: 2))
        #expect(p.listener.state == .open(version: 2))
        #expect(p.dialerSaw == [.sessionOpen])
        #expect(p.listenerSaw == [.sessionOpen])
        p.pump(fromDialer: p.dialer.send(chat(1)))
        #expect(p.listenerSaw.last == .deliver(chat(1)))
        // The listener's shell stores it, then acks.
        p.pump(fromDialer: [], fromListener: p.listener.stored(chat(1).id))
        #expect(p.dialerSaw.last == .acknowledged(chat(1).id))
        // And the other way, with typing and read receipts.
        p.pump(fromDialer: [], fromListener: p.listener.sendTyping(true) + p.listener.send(chat(2, from: Pair.listenerID)))
        #expect(p.dialerSaw.suffix(2) == [.typing(true), .deliver(chat(2, from: Pair.listenerID))])
        p.pump(fromDialer: p.dialer.sendRead(chat(2).id))
        #expect(p.listenerSaw.last == .read(chat(2).id))
    }

    @Test func relayedMessagesFlowOnOpenSessionsOnlyAndOnlyFromThePeer() {
        var p = Pair()
        // Before the session: not sent.
        #expect(p.dialer.sendRelay(realm: "xmpp-ll", user: "carol@laptop", chat(1)).isEmpty)
        p.open()
        p.pump(fromDialer: p.dialer.sendRelay(realm: "xmpp-ll", user: "carol@laptop", chat(1)))
        #expect(p.listenerSaw.last == .relay(realm: "xmpp-ll", user: "carol@laptop", message: chat(1)))
        p.pump(fromDialer: [], fromListener: p.listener.stored(chat(1).id))
        #expect(p.dialerSaw.last == .acknowledged(chat(1).id))
        // A relayed message signed as another node closes the connection.
        p.pump(fromDialer: [.send(.relay(realm: "xmpp-ll", user: "carol@laptop", message: chat(2, from: NodeID(hi: 5, lo: 5))))])
        #expect(p.listener.state == .closed(.wrongIdentity))
    }

    @Test func friendsPolicyDeclinesStrangersWithAClearRefusal() {
        var p = Pair()
        p.policy = .friends
        p.open()
        #expect(p.listener.state == .closed(.declined))
        #expect(p.dialer.state == .closed(.declined))
        guard case .close(.declined, let detail)? = p.dialerSaw.last else { Issue.record("\(p.dialerSaw)"); return }
        #expect(detail.contains("only friends"))
        // Nothing it sends now is delivered.
        p.pump(fromDialer: p.dialer.send(chat(1)))
        #expect(!p.listenerSaw.contains { if case .deliver = $0 { true } else { false } })
    }

    @Test func friendsPolicyAcceptsFriends() {
        var p = Pair()
        p.policy = .friends
        p.friend = true
        p.open()
        #expect(p.listener.isOpen && p.dialer.isOpen)
    }

    @Test func askPolicyWaitsForTheUser() {
        var p = Pair()
        p.policy = .ask
        p.open(handle: "ann")
        #expect(p.listenerSaw == [.askUser(handle: "ann")])
        #expect(!p.dialer.isOpen)
        // A message before the answer is a protocol error, not a delivery.
        var q = p
        q.pump(fromDialer: [.send(.message(chat(1)))])
        #expect(q.listener.state == .closed(.badFrame))
        // The user accepts.
        p.pump(fromDialer: [], fromListener: p.listener.accept())
        #expect(p.dialer.isOpen && p.listener.isOpen)
        // Or declines.
        var r = Pair()
        r.policy = .ask
        r.open()
        r.pump(fromDialer: [], fromListener: r.listener.decline())
        #expect(r.dialer.state == .closed(.declined))
    }

    @Test func helloFromAnotherNodeThanTLSProvedIsRefused() {
        var listener = Connection(me: Pair.listenerID, peer: Pair.dialerID, role: .listener, nowMillis: 0)
        let a = listener.received(.hello(minVersion: 1, maxVersion: 1, node: NodeID(hi: 5, lo: 5)), nowMillis: 0,
                                  policy: .everyone, isFriend: false)
        #expect(listener.state == .closed(.wrongIdentity))
        guard case .send(.close(.wrongIdentity, let detail))? = a.first else { Issue.record("\(a)"); return }
        #expect(detail.contains("TLS proved node \(Pair.dialerID.short)"))
        #expect(a.count == 2)
    }

    @Test func noCommonVersionIsRefused() {
        var listener = Connection(me: Pair.listenerID, peer: Pair.dialerID, role: .listener, nowMillis: 0)
        _ = listener.received(.hello(minVersion: 3, maxVersion: 4, node: Pair.dialerID), nowMillis: 0, policy: .everyone,
                              isFriend: false)
        #expect(listener.state == .closed(.noCommonVersion))
    }

    @Test("a message the receiver could not store is nacked (version 2): the sender is told to retry, the session stays")
    func refusedMessagesAreNackedOnVersion2() {
        var p = Pair()
        p.open()
        p.pump(fromDialer: p.dialer.send(chat(1)))
        #expect(p.listenerSaw.last == .deliver(chat(1)))
        p.pump(fromDialer: [], fromListener: p.listener.refuse(chat(1).id, retryAfterMillis: 1_000, reason: "disk full"))
        #expect(p.dialerSaw.last == .refused(chat(1).id, retryAfterMillis: 1_000, reason: "disk full"))
        #expect(p.dialer.isOpen && p.listener.isOpen)
        // Sent again, stored this time: acked.
        p.pump(fromDialer: p.dialer.send(chat(1)))
        p.pump(fromDialer: [], fromListener: p.listener.stored(chat(1).id))
        #expect(p.dialerSaw.last == .acknowledged(chat(1).id))
    }

    @Test("a version 1 peer knows no nack: refusing closes the connection instead (it retries on the next one)")
    func refusingAVersion1PeerClosesTheConnection() {
        var p = Pair()
        p.dialer = Connection(me: Pair.dialerID, peer: Pair.listenerID, role: .dialer, nowMillis: 0, versions: 1...1)
        p.open()
        #expect(p.listener.state == .open(version: 1))
        let a = p.listener.refuse(chat(1).id, retryAfterMillis: 1_000, reason: "disk full")
        #expect(a.contains { if case .close(.normal, _) = $0 { true } else { false } })
        #expect(p.listener.state == .closed(.normal))
        // And a nack on a version 1 session is out of place.
        var q = Pair()
        q.dialer = Connection(me: Pair.dialerID, peer: Pair.listenerID, role: .dialer, nowMillis: 0, versions: 1...1)
        q.open()
        _ = q.dialer.received(.nack(chat(1).id, retryAfterMillis: 0, reason: ""), nowMillis: 0, policy: .everyone, isFriend: false)
        #expect(q.dialer.state == .closed(.badFrame))
    }

    @Test func framesOutOfOrderCloseTheConnection() {
        var c = Connection(me: Pair.listenerID, peer: Pair.dialerID, role: .listener, nowMillis: 0)
        _ = c.received(.message(chat(1)), nowMillis: 0, policy: .everyone, isFriend: false)
        #expect(c.state == .closed(.badFrame))
        var p = Pair()
        p.open()
        // A message that claims another sender on this connection.
        p.pump(fromDialer: [.send(.message(chat(1, from: NodeID(hi: 4, lo: 4))))])
        #expect(p.listener.state == .closed(.wrongIdentity))
    }

    @Test func keepAlivePingsAfterSilenceAndGivesUpWithoutAnswer() {
        var p = Pair()
        p.open()
        #expect(p.dialer.tick(nowMillis: 14_999).isEmpty)
        let ping = p.dialer.tick(nowMillis: 15_000)
        guard case .send(.ping(let n))? = ping.first else { Issue.record("\(ping)"); return }
        // Answered: nothing more.
        p.now = 15_001
        p.pump(fromDialer: ping)
        #expect(p.dialer.tick(nowMillis: 20_000).isEmpty)
        #expect(n > 0)
        // Unanswered: closed after another keep-alive period.
        let again = p.dialer.tick(nowMillis: 40_000)
        #expect(again.count == 1)
        #expect(p.dialer.tick(nowMillis: 54_999).isEmpty)
        let gone = p.dialer.tick(nowMillis: 55_000)
        #expect(p.dialer.state == .closed(.normal))
        #expect(gone.count == 2)
    }

    @Test func simultaneousDialsKeepTheSameConnectionOnBothSides() {
        let a = NodeID(hi: 1, lo: 0), b = NodeID(hi: 2, lo: 0)
        // a's dial is the one both keep: a keeps its own, b keeps the one it accepted.
        #expect(Connection.keepsDialedConnection(me: a, peer: b, dialedByMe: true))
        #expect(!Connection.keepsDialedConnection(me: a, peer: b, dialedByMe: false))
        #expect(!Connection.keepsDialedConnection(me: b, peer: a, dialedByMe: true))
        #expect(Connection.keepsDialedConnection(me: b, peer: a, dialedByMe: false))
    }
}
