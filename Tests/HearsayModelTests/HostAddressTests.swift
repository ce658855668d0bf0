import HearsayModel
import Testing

@Suite struct HostAddressTests {
    @Test func parsesAndPrintsIPv4() throws {
        let a = try #require(HostAddress("192.0.2.10"))
        #expect(a.bytes == [192, 0, 2, 10])
        #expect(a.isIPv4)
        #expect(a.description == "192.0.2.10")
        #expect(a == .ipv4(192, 0, 2, 10))
        #expect(HostAddress("0.0.0.0")?.bytes == [0, 0, 0, 0])
        #expect(HostAddress("255.255.255.255")?.description == "255.255.255.255")
    }

    @Test(arguments: [
        ("::1", "::1"),
        ("::", "::"),
        ("fe80::1", "fe80::1"),
        ("FE80::1", "fe80::1"),
        ("2001:db8::8:800:200c:417a", "2001:db8::8:800:200c:417a"),
        ("2001:0DB8:0000:0000:0008:0800:200C:417A", "2001:db8::8:800:200c:417a"),
        ("1::", "1::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        // RFC 5952 §4.2.2: a single zero group is not compressed.
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        // §4.2.3: the longest run is compressed; on a tie, the first.
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("0:0:1:0:0:0:0:0", "0:0:1::"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("0:0:0:0:0:0:0:1", "::1"),
    ])
    func parsesAndPrintsIPv6(text: String, canonical: String) throws {
        let a = try #require(HostAddress(text))
        #expect(!a.isIPv4)
        #expect(a.bytes.count == 16)
        #expect(a.description == canonical)
        #expect(HostAddress(canonical) == a)
    }

    @Test func ipv6Bytes() {
        #expect(HostAddress("::1")?.bytes == [UInt8](repeating: 0, count: 15) + [1])
        #expect(HostAddress("fe80::1")?.bytes == [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1])
        #expect(
            HostAddress("2001:db8::8:800:200c:417a")?.bytes
                == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x08, 0x08, 0x00, 0x20, 0x0c, 0x41, 0x7a])
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.256", "1.2.3.4.5", "1..2.3", "1.2.3.", ".1.2.3", "a.b.c.d", "1.2.3.4 ", " 1.2.3.4",
        "1.2.3.0x1", "1.2.3.-1", "+1.2.3.4", "1.2.3.+4", "1000.2.3.4", "localhost",
        ":::", "[::1]", ":", "1::2::3", "12345::", "g::1", "::g", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "+1::", "::-0", "1::+f",
        "::1%eth0", "fe80::1 ",
    ])
    func rejectsGarbage(text: String) {
        #expect(HostAddress(text) == nil)
    }

    @Test func bytesInitAcceptsOnlyFourOrSixteen() {
        for n in [0, 1, 3, 5, 8, 15, 17, 32] { #expect(HostAddress(bytes: [UInt8](repeating: 1, count: n)) == nil) }
        #expect(HostAddress(bytes: [10, 0, 0, 1])?.isIPv4 == true)
        #expect(HostAddress(bytes: [UInt8](repeating: 0, count: 16))?.isIPv4 == false)
    }

    @Test func descriptionRoundTripsRandomAddresses() throws {
        var rng = SeededRandom(seed: 5952)
        for _ in 0..<2_000 {
            var bytes = Fixture.randomBytes(rng.below(2) == 0 ? 4 : 16, &rng)
            // Zero out random groups so compression cases are common.
            if bytes.count == 16 {
                for g in 0..<8 where rng.below(2) == 0 { bytes[2 * g] = 0; bytes[2 * g + 1] = 0 }
            }
            let a = try #require(HostAddress(bytes: bytes))
            #expect(HostAddress(a.description) == a, "\(a)")
            #expect(!a.description.contains(":::"))
            #expect(a.description.ranges(of: "::").count <= 1)
            #expect(a.description == a.description.lowercased())
        }
    }

    @Test func ordersByBytes() {
        #expect(HostAddress.ipv4(1, 2, 3, 4) < .ipv4(1, 2, 3, 5))
        #expect(HostAddress.ipv4(1, 2, 3, 4) < .ipv4(2, 0, 0, 0))
        #expect(!(HostAddress.ipv4(1, 2, 3, 4) < .ipv4(1, 2, 3, 4)))
        #expect(HostAddress("::1")! < HostAddress("fe80::1")!)
    }
}

@Suite struct PeerAddressTests {
    @Test func parsesAndPrintsIPv4() throws {
        let p = try #require(PeerAddress("192.0.2.10:7946"))
        #expect(p.host == .ipv4(192, 0, 2, 10))
        #expect(p.port == 7946)
        #expect(p.description == "192.0.2.10:7946")
    }

    @Test func parsesAndPrintsBracketedIPv6() throws {
        let p = try #require(PeerAddress("[::1]:7946"))
        #expect(p.host == HostAddress("::1"))
        #expect(p.port == 7946)
        #expect(p.description == "[::1]:7946")
        let q = try #require(PeerAddress("[2001:0db8:0:0:8:800:200c:417a]:65535"))
        #expect(q.description == "[2001:db8::8:800:200c:417a]:65535")
        #expect(PeerAddress("[fe80::1]:0")?.port == 0)
    }

    @Test func printedFormParsesBack() {
        var rng = SeededRandom(seed: 80)
        for _ in 0..<500 {
            let host = HostAddress(bytes: Fixture.randomBytes(rng.below(2) == 0 ? 4 : 16, &rng))!
            let p = PeerAddress(host: host, port: UInt16(truncatingIfNeeded: rng.next()))
            #expect(PeerAddress(p.description) == p, "\(p)")
        }
    }

    @Test(arguments: [
        "", "[::1]", "[::1]:", "[::1]7946", "[::1:7946", "::1]:7946", "[::1]:65536", "[::1]:-1", "[::1]:x",
        "[]:80", "[1.2.3]:80", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:port", "1.2.3:80",
        "1.2.3.256:80", ":80", "[:::]:80", "[::1]:80:80", "[::1]]:80",
    ])
    func rejectsGarbage(text: String) {
        #expect(PeerAddress(text) == nil)
    }

    @Test func ordersByHostThenPort() {
        let a = PeerAddress(host: .ipv4(10, 0, 0, 1), port: 9000)
        let b = PeerAddress(host: .ipv4(10, 0, 0, 1), port: 9001)
        let c = PeerAddress(host: .ipv4(10, 0, 0, 2), port: 1)
        #expect(a < b)
        #expect(b < c)
        #expect([c, b, a].sorted() == [a, b, c])
    }
}

@Suite struct PeerAddressStrictnessTests {
    @Test("ambiguous or signed forms are refused", arguments: ["fe80::1:80", "1.2.3.4:+80", "1.2.3.4:", "[1.2.3.4]:80", "[::1]", "1.2.3.4:65536"])
    func refused(_ text: String) {
        #expect(PeerAddress(text) == nil)
    }

    @Test("bracketed IPv6 and plain IPv4 parse")
    func accepted() {
        #expect(PeerAddress("[fe80::1]:80")?.port == 80)
        #expect(PeerAddress("127.0.0.1:7946")?.description == "127.0.0.1:7946")
    }
}
