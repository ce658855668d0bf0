import Foundation
import HearsayNode
import Testing

/// Friends are pinned by id (issue 11, finding 8): a stranger who takes a friend's handle does
/// not shadow the friend.
@Suite(.serialized, .blockingLane) struct FriendNameTests {
    @Test("a stranger called bob: `send bob` is ambiguous until one is a friend, then goes to the friend")
    func aFriendWinsOverAStrangerOfTheSameName() throws {
        let c = Cluster()
        defer { c.stopAll() }
        try c.start(0, join: nil)
        try c.start(1, handle: "bob")
        try c.start(2, handle: "bob")
        #expect(c.eventually(10, nodes: [0]) { $0.filter { $0.state == "alive" }.count == 3 })
        let ambiguous = try hearsay(["send", "--data", c.data(0), "bob", "which one?"])
        #expect(ambiguous.status == 1)
        #expect(ambiguous.err.contains("2 people are called bob"))
        #expect(ambiguous.err.contains("hearsay friends add"))
        let friend = try c.identity(1).id.base32
        #expect(try hearsay(["friends", "--data", c.data(0), "add", String(friend.prefix(8))]).status == 0)
        let sent = try hearsay(["send", "--data", c.data(0), "bob", "for my friend"])
        #expect(sent.status == 0, "\(sent.err)")
        #expect(c.until(5) { c.history(1, with: "node0")?.map(\.text) == ["for my friend"] })
        #expect(c.history(2, with: "node0") == [])
        // The stranger renaming itself "Bob" (another case) changes nothing either.
        c.kill9(2)
        try c.start(2, handle: "Bob")
        #expect(c.eventually(10, nodes: [0]) { $0.contains { $0.handle == "Bob" && $0.state == "alive" } })
        #expect(try hearsay(["send", "--data", c.data(0), "bob", "again"]).status == 0)
        #expect(c.until(5) { c.history(1, with: "node0")?.map(\.text) == ["for my friend", "again"] })
        #expect(c.history(2, with: "node0") == [])
    }
}
