import Discovery
import HearsayModel
import Testing

/// Link-local XMPP users seen through `_presence._tcp`: one entry per user, retracted when its
/// last record goes.
@Suite struct PresenceObserverTests {
    static func record(_ name: String = "carol@laptop", interface: Int32 = 2, ipv6: Bool = false, iface: String = "eth0",
                       address: HostAddress = .ipv4(10, 0, 0, 7), port: UInt16 = 5298,
                       txt: [String: String] = LinkLocalPresenceTests.finch) -> DiscoveryEvent {
        .resolved(ResolvedService(key: ServiceKey(name: name, interface: interface, ipv6: ipv6), interfaceName: iface,
                                  hostName: "laptop.local", address: address, port: port, txt: txt))
    }

    @Test func oneUserOnTwoFamiliesIsOneEntryUntilItsLastRecordGoes() throws {
        var o = PresenceObserver()
        let v6 = Self.record(ipv6: true, address: try #require(HostAddress("fd00::7")))
        guard case .publish(let p, let a)? = o.handle(v6).first else { Issue.record("no publish"); return }
        #expect(p.instance == "carol@laptop")
        #expect(a == HostAddress("fd00::7"))
        // The IPv4 record takes over: an update, not a second user.
        #expect(o.handle(Self.record()) == [.publish(p, address: .ipv4(10, 0, 0, 7))])
        #expect(o.handle(Self.record()).isEmpty)  // the same again: nothing
        #expect(o.handle(.removed(ServiceKey(name: "carol@laptop", interface: 2, ipv6: false)))
            == [.publish(p, address: try #require(HostAddress("fd00::7")))])
        #expect(o.handle(.removed(ServiceKey(name: "carol@laptop", interface: 2, ipv6: true))) == [.retract(instance: "carol@laptop")])
        #expect(o.handle(.removed(ServiceKey(name: "carol@laptop", interface: 2, ipv6: true))).isEmpty)
    }

    @Test func aStatusChangeIsAnUpdate() throws {
        var o = PresenceObserver()
        _ = o.handle(Self.record())
        var t = LinkLocalPresenceTests.finch
        t["status"] = "away"
        t["msg"] = "lunch"
        guard case .publish(let p, _)? = o.handle(Self.record(txt: t)).first else { Issue.record("no update"); return }
        #expect(p.status == .away)
        #expect(p.message == "lunch")
    }

    @Test func hearsayUsersSkippedInterfacesLinkLocalAndBadTXTAreIgnored() throws {
        var o = PresenceObserver()
        var hearsay = LinkLocalPresenceTests.finch
        hearsay["node"] = "hearsay"
        #expect(o.handle(Self.record("ann@desk", txt: hearsay)).isEmpty)
        #expect(o.handle(Self.record(iface: "docker0")).isEmpty)
        #expect(o.handle(Self.record(address: try #require(HostAddress("169.254.3.4")))).isEmpty)
        #expect(o.handle(Self.record(txt: ["txtvers": "9"])).isEmpty)
        #expect(o.handle(Self.record("no-at-sign")).isEmpty)
        #expect(o.ignored == ["hearsay_user": 1, "interface_skipped": 1, "link_local": 1, "txt_unsupported": 1, "txt_malformed": 1])
        // A record that turns unusable retracts its user.
        _ = o.handle(Self.record())
        #expect(o.handle(Self.record(txt: ["txtvers": "2"])) == [.retract(instance: "carol@laptop")])
    }
}
