import HearsayModel
import Realms
import Testing

@Suite struct ProtocolDatabaseTests {
    func entry(realm: String = "hearsay", protocolName: String = "hearsay", addresses: [HostAddress] = [.ipv4(10, 0, 0, 7)],
               chatPort: UInt16 = 7947) -> PresenceEntry {
        var e = PresenceEntry(publicKey: [UInt8](repeating: 1, count: 32), handle: "ann", addresses: addresses,
                              gossipPort: 7946, chatPort: chatPort, version: EntryVersion(incarnation: 1, sequence: 0))
        e.realm = realm
        e.protocolName = protocolName
        return e
    }

    @Test func theNativeRealmIsBuiltIn() {
        let db = ProtocolDatabase()
        #expect(db.all.map(\.realm) == ["hearsay"])
        #expect(db.lookup(realm: "hearsay")?.defaultPort == 7947)
        #expect(db.lookup(realm: "xmpp-ll") == nil)
    }

    @Test func tableEntryToRoute() throws {
        let route = try ProtocolDatabase().route(to: entry())
        #expect(route.protocolEntry == .native)
        #expect(route.address == PeerAddress("10.0.0.7:7947"))
    }

    @Test func unreachablePeersAreClearErrors() {
        let db = ProtocolDatabase()
        #expect(throws: RouteError.self) { try db.route(to: entry(realm: "xmpp-ll", protocolName: "xmpp")) }
        #expect(throws: RouteError.self) { try db.route(to: entry(protocolName: "other")) }
        #expect(throws: RouteError.self) { try db.route(to: entry(addresses: [])) }
        #expect(throws: RouteError.self) { try db.route(to: entry(chatPort: 0)) }
        do { _ = try db.route(to: entry(realm: "xmpp-ll", protocolName: "xmpp")) } catch {
            #expect(error.description.contains("realm xmpp-ll"))
        }
    }

    @Test func foreignRealmsPlugInTheSameWay() throws {
        var db = ProtocolDatabase()
        db.register(RealmProtocol(realm: "xmpp-ll", protocolName: "xmpp", version: 1, transport: "tcp", defaultPort: 5298,
                                  discovery: "mDNS _presence._tcp", security: "none", adapter: "LinkLocalXMPP"))
        #expect(db.all.map(\.realm) == ["hearsay", "xmpp-ll"])
        #expect(try db.route(to: entry(realm: "xmpp-ll", protocolName: "xmpp", chatPort: 5298)).address.port == 5298)
    }
}
