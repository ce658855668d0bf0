import HearsayModel
import Testing

@Suite struct PresenceEntryTests {
    @Test func nativeEntryIdIsItsOwner() {
        let e = Fixture.entry()
        #expect(!e.isForeign)
        #expect(e.owner == Fixture.alice.id)
        #expect(e.id == Fixture.alice.id)
    }

    @Test func foreignEntryIdIsBoundToOwnerRealmAndName() {
        let e = Fixture.foreignEntry()
        #expect(e.isForeign)
        #expect(e.owner == Fixture.alice.id)
        #expect(e.id == NodeID(foreignUser: "carol@laptop", realm: "xmpp-ll", owner: Fixture.alice.id))
        #expect(Fixture.foreignEntry(of: Fixture.bob).id != e.id)
        #expect(Fixture.foreignEntry(name: "dave@laptop").id != e.id)
        var otherRealm = e
        otherRealm.realm = "bonjour"
        #expect(otherRealm.id != e.id)
    }

    @Test func gossipAddressIsTheFirstAddressWithTheGossipPort() {
        #expect(Fixture.entry().gossipAddress == PeerAddress(host: Fixture.v4, port: 7946))
        #expect(Fixture.entry(addresses: [Fixture.v6, Fixture.v4]).gossipAddress?.description == "[2001:db8::8:800:200c:417a]:7946")
        #expect(Fixture.entry(addresses: []).gossipAddress == nil)
        #expect(Fixture.entry(gossipPort: 0).gossipAddress == nil)
        #expect(Fixture.foreignEntry().gossipAddress == nil)
    }

    @Test func defaults() {
        let e = PresenceEntry(
            publicKey: Fixture.alice.publicKey, handle: "a", addresses: [], gossipPort: 1, chatPort: 2,
            version: EntryVersion(incarnation: 0, sequence: 0))
        #expect(e.realm == "hearsay")
        #expect(e.protocolName == "hearsay")
        #expect(e.protocolVersion == 1)
        #expect(e.status == .available)
        #expect(e.statusText == "")
        #expect(e.capabilities == [.chat])
        #expect(e.flags == [])
        #expect(e.foreignName == nil)
    }

    @Test func limitsKeepThePublishedNumbers() {
        #expect(PresenceEntry.Limits.handle == 48)
        #expect(PresenceEntry.Limits.realm == 24)
        #expect(PresenceEntry.Limits.protocolName == 24)
        #expect(PresenceEntry.Limits.statusText == 96)
        #expect(PresenceEntry.Limits.foreignName == 96)
        #expect(PresenceEntry.Limits.addresses == 4)
        #expect(PresenceEntry.Limits.encodedSize == 432)
        #expect(PresenceEntry.Flags.left.rawValue == 2)
        #expect(PresenceEntry.Flags.retracted.rawValue == 4)
    }
}

@Suite struct EntryVersionTests {
    @Test func ordersByIncarnationThenSequence() {
        let v = { (i: UInt64, s: UInt64) in EntryVersion(incarnation: i, sequence: s) }
        #expect(v(1, 100) < v(2, 0))
        #expect(v(2, 0) < v(2, 1))
        #expect(!(v(2, 1) < v(2, 1)))
        #expect(v(0, .max) < v(1, 0))
        #expect([v(2, 0), v(1, 5), v(1, 2)].sorted() == [v(1, 2), v(1, 5), v(2, 0)])
        #expect(v(3, 17).description == "3.17")
    }
}

@Suite struct PresenceStatusTests {
    @Test func wireValuesAreStable() {
        #expect(PresenceStatus.allCases.map(\.rawValue) == [0, 1, 2, 3])
        #expect(PresenceStatus.allCases.map(\.description) == ["available", "away", "busy", "offline"])
        #expect(PresenceStatus(rawValue: 4) == nil)
    }

    @Test func parsesNamesCaseInsensitively() {
        for s in PresenceStatus.allCases {
            #expect(PresenceStatus(name: s.description) == s)
            #expect(PresenceStatus(name: s.description.uppercased()) == s)
        }
        #expect(PresenceStatus(name: "Away") == .away)
        #expect(PresenceStatus(name: "dnd") == nil)
        #expect(PresenceStatus(name: "") == nil)
    }
}

@Suite struct CapabilitiesTests {
    @Test func bitsAreStable() {
        #expect(Capabilities.chat.rawValue == 1)
        #expect(Capabilities.typing.rawValue == 2)
        #expect(Capabilities.receipts.rawValue == 4)
        #expect(Capabilities.relay.rawValue == 8)
        #expect(Capabilities.profile.rawValue == 16)
    }

    @Test func names() {
        #expect(Capabilities([]).names == [])
        #expect(Capabilities([.relay, .chat]).names == ["chat", "relay"])
        #expect(Capabilities([.chat, .typing, .receipts, .relay, .profile]).names == ["chat", "typing", "receipts", "relay", "profile"])
        #expect(Capabilities(rawValue: 1 << 10).names == ["0x400"])
        #expect(Capabilities(rawValue: 1 | 1 << 5 | 1 << 31).names == ["chat", "0x80000020"])
    }
}
