import Discovery
import HearsayModel
import Testing

@Suite struct HearsayServiceTests {
    let id = NodeID(publicKey: [UInt8](repeating: 7, count: 32))

    func txt(_ s: HearsayService) -> [String: String] {
        Dictionary(uniqueKeysWithValues: s.txt.map { ($0.key, $0.value) })
    }

    @Test func txtRoundTrips() throws {
        let s = HearsayService(id: id, gossipPort: 7946, chatPort: 7947)
        #expect(s.txt.map(\.key) == ["txtvers", "id", "pv", "gossip", "chat", "realm"])
        #expect(try HearsayService(txt: txt(s)) == s)
        #expect(txt(s)["id"] == id.base32)
    }

    @Test func unknownKeysAreIgnored() throws {
        var t = txt(HearsayService(id: id, gossipPort: 7946))
        t["future"] = "x"
        #expect(try HearsayService(txt: t).id == id)
    }

    @Test(arguments: [
        ("txtvers", nil, HearsayService.TXTError.missing("txtvers")),
        ("txtvers", "2", .unsupported("txtvers=2")),
        ("id", nil, .missing("id")),
        ("id", "not-an-id", .malformed("id")),
        ("pv", "x", .malformed("pv")),
        ("pv", "9", .unsupported("pv=9")),
        ("gossip", "0", .malformed("gossip")),
        ("gossip", "70000", .malformed("gossip")),
    ] as [(String, String?, HearsayService.TXTError)])
    func badRecordsAreRefusedWithAReason(key: String, value: String?, error: HearsayService.TXTError) {
        var t = txt(HearsayService(id: id, gossipPort: 7946))
        t[key] = value
        #expect(throws: error) { try HearsayService(txt: t) }
    }

    @Test func instanceNameFitsOneDNSLabel() {
        #expect(HearsayService.instanceName(handle: "ann", host: "desk") == "ann on desk")
        let long = HearsayService.instanceName(handle: String(repeating: "é", count: 40), host: "desk")
        #expect(long.utf8.count <= 63)
        #expect(long.hasPrefix("éé"))
    }
}

@Suite struct InterfaceFilterTests {
    @Test func containerAndTunnelInterfacesAreSkippedByDefault() {
        let f = InterfaceFilter()
        for name in ["eth0", "enp3s0", "wlan0", "lan0", "wlp2s0"] { #expect(f.allows(name), "\(name)") }
        for name in ["lo", "docker0", "br-1a2b", "veth12ab", "virbr0", "tun0", "wg0", "tailscale0", "zt3jn"] {
            #expect(!f.allows(name), "\(name)")
        }
    }

    @Test func onlyListAndEmptySkipList() {
        #expect(InterfaceFilter(only: ["eth1"]).allows("eth1"))
        #expect(!InterfaceFilter(only: ["eth1"]).allows("eth0"))
        #expect(InterfaceFilter(skipPrefixes: []).allows("docker0"))
    }

    @Test func advertisedAddressesLeaveOutLoopbackLinkLocalAndSkipped() {
        let all = [
            LocalInterface(name: "lo", index: 1, address: .ipv4(127, 0, 0, 1), prefixLength: 8),
            LocalInterface(name: "eth0", index: 2, address: .ipv4(192, 168, 1, 20), prefixLength: 24),
            LocalInterface(name: "eth0", index: 2, address: HostAddress("fe80::1")!, prefixLength: 64),
            LocalInterface(name: "eth0", index: 2, address: HostAddress("2001:db8::20")!, prefixLength: 64),
            LocalInterface(name: "docker0", index: 3, address: .ipv4(172, 17, 0, 1), prefixLength: 16),
            LocalInterface(name: "wlan0", index: 4, address: .ipv4(10, 0, 0, 5), prefixLength: 24),
        ]
        #expect(LocalInterface.advertised(all, filter: InterfaceFilter()).map(\.description)
                == ["10.0.0.5", "192.168.1.20", "2001:db8::20"])
    }

    @Test func interfacesSharingASubnetAreReported() {
        let all = [
            LocalInterface(name: "eth0", index: 2, address: .ipv4(192, 168, 1, 20), prefixLength: 24),
            LocalInterface(name: "wlan0", index: 3, address: .ipv4(192, 168, 1, 31), prefixLength: 24),
            LocalInterface(name: "eth1", index: 4, address: .ipv4(10, 1, 0, 2), prefixLength: 16),
        ]
        let shared = LocalInterface.sharedSubnets(all, filter: InterfaceFilter())
        #expect(shared.count == 1)
        #expect(shared.first?.network == "192.168.1.0/24")
        #expect(shared.first?.interfaces == ["eth0", "wlan0"])
    }
}
