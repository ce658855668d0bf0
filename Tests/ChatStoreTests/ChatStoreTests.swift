import ChatStore
import Foundation
import HearsayModel
import NativeWire
import Testing

@Suite struct ChatStoreTests {
    static let me = NodeID(hi: 1, lo: 1)
    static let ann = NodeID(hi: 2, lo: 2)
    static let bob = NodeID(hi: 3, lo: 3)

    func message(_ n: UInt64, from sender: NodeID = me, text: String? = nil) -> ChatMessage {
        ChatMessage(id: MessageID(hi: sender.hi, lo: n), sender: sender, sentAtMillis: 1_795_590_000_000 + Int64(n),
                    text: text ?? "message \(n)")
    }

    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("hearsay-store-\(UUID().uuidString).sqlite").path
    }

    @Test func aQueuedMessageStaysInTheOutboxUntilItsAck() throws {
        let s = try ChatStore(path: nil)
        let m = message(1)
        let stored = try s.queue(m, to: Self.ann)
        #expect(stored.state == .queued)
        #expect(stored.direction == .outgoing)
        #expect(try s.outbox(for: Self.ann).map(\.message.id) == [m.id])
        try s.attempted(m.id, nextAttemptMillis: 5_000)
        #expect(try s.outbox().first?.attempts == 1)
        #expect(try s.outbox().first?.nextAttemptMillis == 5_000)
        #expect(try s.acknowledged(m.id))
        #expect(try s.outbox().isEmpty)
        #expect(try s.message(m.id)?.state == .delivered)
        // A repeated or unknown ack changes nothing.
        #expect(try !s.acknowledged(m.id))
        #expect(try !s.acknowledged(MessageID(hi: 9, lo: 9)))
    }

    @Test func theOutboxKeepsOrderAndSeparatesPeers() throws {
        let s = try ChatStore(path: nil)
        for n in UInt64(1)...5 { try s.queue(message(n), to: n % 2 == 0 ? Self.bob : Self.ann) }
        #expect(try s.outbox(for: Self.ann).map(\.message.id.lo) == [1, 3, 5])
        #expect(try s.outbox(for: Self.bob).map(\.message.id.lo) == [2, 4])
        #expect(try s.outbox().map(\.message.id.lo) == [1, 2, 3, 4, 5])
    }

    @Test func anIncomingMessageIsStoredOnceWhateverTheRetries() throws {
        let s = try ChatStore(path: nil)
        let m = message(7, from: Self.ann)
        #expect(try s.receive(m, from: Self.ann) == .stored)
        #expect(try s.receive(m, from: Self.ann) == .duplicate)
        let h = try s.history(with: Self.ann)
        #expect(h.count == 1)
        #expect(h.first?.state == .received)
        #expect(h.first?.text == "message 7")
        try s.markRead(m.id)
        #expect(try s.message(m.id)?.state == .read)
    }

    @Test func historyIsInOrderAndBothWays() throws {
        let s = try ChatStore(path: nil)
        try s.queue(message(1, text: "hi"), to: Self.ann)
        _ = try s.receive(message(1, from: Self.ann, text: "hello"), from: Self.ann)
        try s.queue(message(2, text: "how are you?"), to: Self.ann)
        _ = try s.receive(message(1, from: Self.bob, text: "elsewhere"), from: Self.bob)
        #expect(try s.history(with: Self.ann).map(\.text) == ["hi", "hello", "how are you?"])
        #expect(try s.history(with: Self.ann).map(\.direction) == [.outgoing, .incoming, .outgoing])
        #expect(try s.history(with: Self.bob).count == 1)
    }

    @Test func everythingSurvivesReopening() throws {
        let path = temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        do {
            let s = try ChatStore(path: path)
            try s.queue(message(1), to: Self.ann)
            try s.queue(message(2), to: Self.ann)
            _ = try s.acknowledged(message(1).id)
            _ = try s.receive(message(3, from: Self.bob), from: Self.bob)
            try s.addFriend(Self.ann, handle: "ann", atMillis: 1)
        }
        let s = try ChatStore(path: path)  // migrations run again: nothing to do
        #expect(try s.outbox().map(\.message.id) == [message(2).id])
        #expect(try s.history(with: Self.ann).map(\.state) == [.delivered, .queued])
        #expect(try s.receive(message(3, from: Self.bob), from: Self.bob) == .duplicate)
        #expect(try s.isFriend(Self.ann))
    }

    @Test func friendsAndPeers() throws {
        let s = try ChatStore(path: nil)
        try s.addFriend(Self.bob, handle: "bob", atMillis: 1)
        try s.addFriend(Self.ann, handle: "ann", atMillis: 2)
        try s.addFriend(Self.ann, handle: "Ann", atMillis: 3)  // renamed, not doubled
        #expect(try s.friends().map(\.handle) == ["Ann", "bob"])
        #expect(try s.removeFriend(Self.bob))
        #expect(try !s.removeFriend(Self.bob))
        #expect(try !s.isFriend(Self.bob))
        let key = [UInt8](repeating: 7, count: 32)
        try s.rememberPeer(Self.ann, handle: "Ann", realm: "hearsay", publicKey: key, address: "10.0.0.2:7947", atMillis: 5)
        #expect(try s.peerKey(Self.ann) == key)
        #expect(try s.peerKey(Self.bob) == nil)
    }

    @Test func aGroupCommitAppliesEveryOpInOrderAndSaysWhatChanged() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let s = try ChatStore(path: path, durability: .power)
        let inbound = message(9, from: Self.bob)
        let peer = KnownPeer(id: Self.bob, handle: "bob", realm: "hearsay", publicKey: [1, 2], address: "127.0.0.2:7947",
                             lastSeenMillis: 1)
        let results = try s.commit([
            .queue(message(1), to: Self.ann), .queue(message(2), to: Self.ann), .queue(message(1), to: Self.ann),
            .receive(inbound, from: Self.bob), .receive(inbound, from: Self.bob),
            .acknowledged(message(1).id), .acknowledged(message(1).id), .attempted(message(2).id, nextAttemptMillis: 77),
            .attempted(MessageID(hi: 5, lo: 5), nextAttemptMillis: 1), .markRead(inbound.id), .rememberPeer(peer),
        ])
        // A queued id again, a duplicate receive, a second ack, an unknown attempt: false, and nothing changed.
        #expect(results == [true, true, false, true, false, true, false, true, false, true, true])
        let reopened = try ChatStore(path: path)
        #expect(try reopened.outbox().map(\.message.id) == [message(2).id])
        #expect(try reopened.outbox().first?.nextAttemptMillis == 77)
        #expect(try reopened.history(with: Self.ann).map(\.state) == [.delivered, .queued])
        #expect(try reopened.history(with: Self.bob).map(\.state) == [.read])
        #expect(try reopened.knownPeers() == [peer])
    }

    @Test func conversationsUnreadAndTheLastMessages() throws {
        let s = try ChatStore(path: nil)
        for n in UInt64(1)...3 { _ = try s.receive(message(n, from: Self.bob), from: Self.bob) }
        try s.queue(message(4), to: Self.ann)
        _ = try s.receive(message(5, from: Self.ann), from: Self.ann)
        try s.markRead(message(1, from: Self.bob).id)
        let c = try s.conversations()
        #expect(c.map(\.peer) == [Self.ann, Self.bob])  // most recent first
        #expect(c.map(\.unread) == [1, 2])
        #expect(c.map(\.queued) == [1, 0])
        #expect(c.map(\.messages) == [2, 3])
        #expect(c.first?.last?.id == message(5, from: Self.ann).id)
        #expect(try s.unread(from: Self.bob).map(\.id.lo) == [2, 3])
        #expect(try s.history(with: Self.bob, limit: 2).map(\.id.lo) == [2, 3])
    }

    @Test func anUnwritablePathIsAClearError() {
        #expect(throws: StoreError.self) { try ChatStore(path: "/proc/no/such/dir/chat.sqlite") }
    }
}
