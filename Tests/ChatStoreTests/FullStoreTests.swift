import ChatStore
import Foundation
import HearsayModel
import NativeWire
import Testing

/// A full disk, simulated with `PRAGMA max_page_count` (issue 11, finding 9): a commit that does
/// not fit fails as a whole with a typed error saying what to do, writes nothing, and the same
/// commit goes through once there is room again.
@Suite struct FullStoreTests {
    static let ann = NodeID(hi: 2, lo: 2)

    func message(_ n: UInt64, size: Int) -> ChatMessage {
        ChatMessage(id: MessageID(hi: 5, lo: n), sender: Self.ann, sentAtMillis: Int64(n),
                    text: String(repeating: "x", count: size))
    }

    @Test("a commit on a full store fails whole with a typed error, and goes through once there is room")
    func fullThenRoom() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hearsay-full-\(UUID().uuidString).sqlite").path
        defer { for ext in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + ext) } }
        let s = try ChatStore(path: path)
        #expect(try s.commit([.receive(message(1, size: 10), from: Self.ann)]) == [true])
        try s.limitSize(pages: try s.pageCount())
        let batch = (2...40).map { StoreOp.receive(message(UInt64($0), size: 8_000), from: Self.ann) }
        var failure: StoreError?
        do { _ = try s.commit(batch) } catch { failure = error }
        #expect(failure?.isFull == true)
        #expect(failure?.description.contains("free some space") == true)
        #expect(try s.history(with: Self.ann).count == 1, "nothing of the failed commit is written")
        try s.limitSize(pages: nil)
        #expect(try s.commit(batch) == Array(repeating: true, count: batch.count))
        #expect(try s.history(with: Self.ann).map(\.id) == (1...40).map { message(UInt64($0), size: 0).id })
    }

    @Test("a relayed message keeps the node that relayed it; a direct one has none")
    func relayedMessagesKeepTheirRelay() throws {
        let s = try ChatStore(path: nil)
        let observer = NodeID(hi: 7, lo: 7)
        _ = try s.commit([.receiveRelayed(message(1, size: 3), from: Self.ann, via: observer),
                          .receive(message(2, size: 3), from: Self.ann)])
        #expect(try s.history(with: Self.ann).map(\.via) == [observer, nil])
        #expect(try s.conversations().first?.last?.via == nil)
    }
}
