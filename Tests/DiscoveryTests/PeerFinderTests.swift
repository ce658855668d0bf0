import Discovery
import HearsayModel
import Testing

@Suite struct PeerFinderTests {
    static func id(_ i: UInt8) -> NodeID { NodeID(publicKey: [UInt8](repeating: i, count: 32)) }
    let me = Self.id(0)

    func record(_ i: UInt8, name: String? = nil, interface: Int32 = 2, ifName: String = "eth0", ipv6: Bool = false,
                address: HostAddress? = nil, port: UInt16 = 7946) -> ResolvedService {
        let s = HearsayService(id: Self.id(i), gossipPort: port)
        return ResolvedService(
            key: ServiceKey(name: name ?? "user\(i) on host\(i)", interface: interface, ipv6: ipv6), interfaceName: ifName,
            hostName: "host\(i).local", address: address ?? .ipv4(10, 0, 0, i), port: port,
            txt: Dictionary(uniqueKeysWithValues: s.txt.map { ($0.key, $0.value) }))
    }

    @Test func aResolvedPeerIsAJoinCandidateOnce() {
        var f = PeerFinder(me: me)
        #expect(f.handle(.resolved(record(1))) == [.join(PeerAddress(host: .ipv4(10, 0, 0, 1), port: 7946), Self.id(1))])
        // The resolver reports it again (TXT refresh): nothing new.
        #expect(f.handle(.resolved(record(1))).isEmpty)
        #expect(f.peers[Self.id(1)]?.count == 1)
    }

    @Test func oneNodeOnTwoInterfacesAndFamiliesIsOneNode() {
        var f = PeerFinder(me: me)
        _ = f.handle(.resolved(record(1)))
        // Same address over a second interface: the same node, no second join.
        #expect(f.handle(.resolved(record(1, interface: 3, ifName: "wlan0"))).isEmpty)
        // Another address (another subnet): one more candidate address for the same node.
        let other = f.handle(.resolved(record(1, interface: 4, ifName: "eth1", address: .ipv4(192, 168, 5, 1))))
        #expect(other == [.join(PeerAddress(host: .ipv4(192, 168, 5, 1), port: 7946), Self.id(1))])
        #expect(f.peers.count == 1)
        #expect(f.peers[Self.id(1)]?.count == 2)
    }

    @Test func theLastRecordGoingAwayOnlyAsksForAProbe() {
        var f = PeerFinder(me: me)
        let a = record(1), b = record(1, interface: 3, ifName: "wlan0", address: .ipv4(192, 168, 5, 1))
        _ = f.handle(.resolved(a))
        _ = f.handle(.resolved(b))
        #expect(f.handle(.removed(a.key)).isEmpty)
        #expect(f.handle(.removed(b.key)) == [.probeSoon(Self.id(1))])
        #expect(f.handle(.removed(b.key)).isEmpty)  // already gone
        #expect(f.peers.isEmpty)
    }

    @Test func ownRecordsAreNotCandidates() {
        var f = PeerFinder(me: me)
        #expect(f.handle(.resolved(record(0))).isEmpty)
        #expect(f.stats.ownRecords == 1)
    }

    @Test func skippedInterfacesLinkLocalAndBadTXTAreCountedAndIgnored() {
        var f = PeerFinder(me: me)
        #expect(f.handle(.resolved(record(1, ifName: "docker0"))).isEmpty)
        #expect(f.handle(.resolved(record(2, ipv6: true, address: HostAddress("fe80::2")!))).isEmpty)
        var bad = record(3)
        bad.txt["id"] = "nonsense"
        #expect(f.handle(.resolved(bad)).isEmpty)
        bad.txt["txtvers"] = nil
        #expect(f.handle(.resolved(bad)).isEmpty)
        #expect(f.stats.ignored == ["interface_skipped": 1, "link_local": 1, "txt_malformed": 1, "txt_missing": 1])
        #expect(f.peers.isEmpty)
    }

    @Test func twoNodesWithTheSameInstanceNameOnDifferentHostsStayApart() {
        var f = PeerFinder(me: me)
        _ = f.handle(.resolved(record(1, name: "sam on box")))
        _ = f.handle(.resolved(record(2, name: "sam on box #2")))
        #expect(f.peers.count == 2)
    }
}
