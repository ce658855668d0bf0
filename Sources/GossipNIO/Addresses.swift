import HearsayModel
import NIOCore

extension PeerAddress {
    /// The NIO socket address of this peer.
    public func socketAddress() throws -> SocketAddress {
        try SocketAddress(ipAddress: host.description, port: Int(port))
    }

    /// A peer address from an IPv4/IPv6 NIO socket address (nil for Unix sockets).
    public init?(_ a: SocketAddress) {
        guard let ip = a.ipAddress, let port = a.port, let host = HostAddress(ip), port >= 0, port <= 65_535 else {
            return nil
        }
        self.init(host: host, port: UInt16(port))
    }
}
