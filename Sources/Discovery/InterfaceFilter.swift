/// Which network interfaces discovery uses. Container bridges, virtual Ethernet pairs and VPN
/// tunnels are skipped by default: a peer seen there is a container or a remote network, not
/// someone on this LAN, and its address is usually unreachable from the LAN's other hosts.
public struct InterfaceFilter: Hashable, Sendable {
    /// Name prefixes skipped unless `only` names the interface.
    public var skipPrefixes: [String]
    /// If not empty, only these interfaces (exact names) are used.
    public var only: [String]

    public static let defaultSkipPrefixes = [
        "docker", "br-", "veth", "virbr", "vnet", "vmnet", "vboxnet", "lxc", "lxd", "podman", "cni", "flannel",
        "cali", "weave", "kube", "tun", "tap", "wg", "tailscale", "zt", "utun", "ppp",
    ]

    public init(skipPrefixes: [String] = InterfaceFilter.defaultSkipPrefixes, only: [String] = []) {
        self.skipPrefixes = skipPrefixes
        self.only = only
    }

    public func allows(_ name: String) -> Bool {
        if !only.isEmpty { return only.contains(name) }
        if name == "lo" { return false }
        return !skipPrefixes.contains { name.hasPrefix($0) }
    }
}
