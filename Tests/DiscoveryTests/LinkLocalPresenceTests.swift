import Discovery
import HearsayModel
import Testing

/// XEP-0174 records: what finch publishes is read, what the node publishes is what finch reads.
@Suite struct LinkLocalPresenceTests {
    /// TXT as finch 2.14.12 publishes it (issue 6's observation).
    static let finch = ["txtvers": "1", "1st": "Carol", "last": "Jones", "port.p2pj": "5298", "status": "avail",
                        "node": "libpurple", "ver": "2.14.12", "vc": "!"]

    @Test func aFinchRecordIsRead() throws {
        let p = try LinkLocalPresence(instance: "carol@laptop", port: 5298, txt: Self.finch)
        #expect(p.displayName == "Carol Jones")
        #expect(p.status == .available)
        #expect(p.node == "libpurple")
        var e = PresenceEntry(publicKey: [UInt8](repeating: 1, count: 32), handle: "x", addresses: [], gossipPort: 0,
                              chatPort: 0, version: EntryVersion(incarnation: 1, sequence: 0))
        p.fill(&e, address: .ipv4(10, 0, 0, 7))
        #expect(e.handle == "Carol Jones")
        #expect(e.addresses == [.ipv4(10, 0, 0, 7)])
        #expect(e.chatPort == 5298)
        #expect(e.protocolName == "xmpp")
    }

    @Test(arguments: [("avail", PresenceStatus.available), ("away", .away), ("dnd", .busy), ("odd", .available)])
    func statuses(_ txt: String, _ status: PresenceStatus) throws {
        var t = Self.finch
        t["status"] = txt
        #expect(try LinkLocalPresence(instance: "a@b", port: 1, txt: t).status == status)
    }

    @Test func theNameShownPrefersTheNickThenTheFullNameThenTheUser() throws {
        var t = Self.finch
        t["nick"] = "caz"
        #expect(try LinkLocalPresence(instance: "carol@laptop", port: 5298, txt: t).displayName == "caz")
        #expect(try LinkLocalPresence(instance: "carol@laptop", port: 5298, txt: ["txtvers": "1"]).displayName == "carol")
        #expect(try LinkLocalPresence(instance: "carol@laptop", port: 5298, txt: [:]).displayName == "carol")  // no txtvers: taken
    }

    @Test func badRecordsAreRefused() {
        #expect(throws: HearsayService.TXTError.unsupported("txtvers=2")) {
            try LinkLocalPresence(instance: "a@b", port: 1, txt: ["txtvers": "2"])
        }
        #expect(throws: HearsayService.TXTError.self) { try LinkLocalPresence(instance: "a@b", port: 0, txt: [:]) }
        for bad in ["nobody", "@host", "user@"] {
            #expect(throws: HearsayService.TXTError.self) { try LinkLocalPresence(instance: bad, port: 1, txt: [:]) }
        }
    }

    @Test func whatTheNodePublishesReadsBackTheSame() throws {
        let mine = LinkLocalPresence(instance: "ann@desk", port: 5299, first: "Ann", last: "Lee", nick: "ann",
                                     status: .busy, message: "in a meeting", node: "hearsay", ver: "1")
        let keys = mine.txt.map(\.key)
        #expect(Array(keys.prefix(5)) == ["txtvers", "1st", "last", "port.p2pj", "status"])
        for k in ["node", "ver", "vc", "msg", "nick"] { #expect(keys.contains(k)) }
        #expect(mine.txt.first { $0.key == "status" }?.value == "dnd")
        #expect(mine.txt.first { $0.key == "port.p2pj" }?.value == "5299")
        let back = try LinkLocalPresence(instance: "ann@desk", port: 5299,
                                         txt: Dictionary(mine.txt.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }))
        #expect(back == mine)
    }

    @Test func longTextsAreCutToTheEntrysLimitsOnACharacterBoundary() throws {
        let p = LinkLocalPresence(instance: "x@y", port: 1, nick: String(repeating: "é", count: 40),
                                  message: String(repeating: "ü", count: 80))
        var e = PresenceEntry(publicKey: [UInt8](repeating: 1, count: 32), handle: "x", addresses: [], gossipPort: 0,
                              chatPort: 0, version: EntryVersion(incarnation: 1, sequence: 0))
        p.fill(&e, address: .ipv4(10, 0, 0, 1))
        #expect(e.handle.utf8.count <= PresenceEntry.Limits.handle)
        #expect(e.handle == String(repeating: "é", count: 24))
        #expect(e.statusText.utf8.count <= PresenceEntry.Limits.statusText)
    }
}
