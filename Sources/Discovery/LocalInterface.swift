import HearsayModel

/// One address of one local network interface, as the OS lists it.
public struct LocalInterface: Hashable, Sendable {
    public var name: String
    public var index: Int32
    public var address: HostAddress
    /// Prefix length of the interface's network (e.g. 24).
    public var prefixLength: Int

    public init(name: String, index: Int32, address: HostAddress, prefixLength: Int) {
        self.name = name
        self.index = index
        self.address = address
        self.prefixLength = prefixLength
    }

    public var isLoopback: Bool { address.isLoopback }
    public var isLinkLocal: Bool { address.isLinkLocal }

    /// The addresses a node bound to every address advertises in its entry: those of the
    /// interfaces the filter allows, IPv4 first, without loopback and link-local addresses
    /// (an IPv6 link-local address needs an interface scope no peer can know). Sorted, so that
    /// the same interfaces always give the same list.
    public static func advertised(_ all: [LocalInterface], filter: InterfaceFilter) -> [HostAddress] {
        let picked = all.filter { filter.allows($0.name) && !$0.isLoopback && !$0.isLinkLocal }.map(\.address)
        let unique = Array(Set(picked))
        return unique.filter(\.isIPv4).sorted() + unique.filter { !$0.isIPv4 }.sorted()
    }

    /// Interfaces that share an IPv4 network with another interface (say wired and Wi-Fi on one
    /// LAN): peers may then reach this host through either, or see it twice.
    public static func sharedSubnets(_ all: [LocalInterface], filter: InterfaceFilter) -> [(network: String, interfaces: [String])] {
        var byNet = [String: Set<String>]()
        for i in all where i.address.isIPv4 && !i.isLoopback && filter.allows(i.name) {
            byNet[i.address.network(prefixLength: i.prefixLength), default: []].insert(i.name)
        }
        return byNet.filter { $0.value.count > 1 }.map { ($0.key, $0.value.sorted()) }.sorted { $0.network < $1.network }
    }
}

extension HostAddress {
    public var isLoopback: Bool {
        isIPv4 ? bytes[0] == 127 : bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// 169.254/16 or fe80::/10.
    public var isLinkLocal: Bool {
        isIPv4 ? (bytes[0] == 169 && bytes[1] == 254) : (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80)
    }

    /// "10.77.0.0/24" for an IPv4 address and a prefix length.
    public func network(prefixLength: Int) -> String {
        var b = bytes
        let bits = b.count * 8
        for i in 0..<bits where i >= prefixLength { b[i / 8] &= ~(UInt8(0x80) >> UInt8(i % 8)) }
        return "\(HostAddress(bytes: b)!)/\(prefixLength)"
    }
}
