import HearsayModel

/// One DNS-SD record as a browser sees it: the same service is one record per interface and
/// address family (IPv4, IPv6).
public struct ServiceKey: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var interface: Int32
    public var ipv6: Bool

    public init(name: String, interface: Int32, ipv6: Bool) {
        self.name = name
        self.interface = interface
        self.ipv6 = ipv6
    }

    public var description: String { "\"\(name)\" on if\(interface)/\(ipv6 ? "IPv6" : "IPv4")" }
}

/// A resolved record: where the service is and what its TXT says.
public struct ResolvedService: Hashable, Sendable {
    public var key: ServiceKey
    public var interfaceName: String
    public var hostName: String
    public var address: HostAddress
    public var port: UInt16
    public var txt: [String: String]

    public init(key: ServiceKey, interfaceName: String, hostName: String, address: HostAddress, port: UInt16,
                txt: [String: String]) {
        self.key = key
        self.interfaceName = interfaceName
        self.hostName = hostName
        self.address = address
        self.port = port
        self.txt = txt
    }
}

/// What the mDNS/DNS-SD backend reports, translated from its callbacks.
public enum DiscoveryEvent: Hashable, Sendable {
    /// The daemon is running and registered us (its host name), or is gone and being waited for.
    case running(hostName: String)
    case waiting(reason: String)
    /// Our service is published under this instance name (after any renames).
    case published(name: String)
    /// Another host holds our instance name: we now publish under `renamed`.
    case collision(name: String, renamed: String)
    case resolved(ResolvedService)
    case removed(ServiceKey)
    /// Something failed that the backend could not recover from by itself.
    case failure(String)
}
