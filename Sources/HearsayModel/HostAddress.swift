/// An IPv4 or IPv6 address as raw bytes (4 or 16), with its textual forms.
public struct HostAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> HostAddress {
        HostAddress(bytes: [a, b, c, d])!
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// 0.0.0.0 or `::`: "every address" when binding.
    public var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }

    /// Parses dotted IPv4 or (full or `::`-compressed) IPv6 text.
    public init?(_ text: String) {
        if text.contains(":") {
            guard let b = Self.parseIPv6(text) else { return nil }
            bytes = b
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var b = [UInt8]()
            for p in parts {
                guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt8(p) else { return nil }
                b.append(v)
            }
            bytes = b
        }
    }

    private static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out = [UInt16]()
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, g.allSatisfy(\.isHexDigit), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        // RFC 5952: compress the longest run of two or more zero groups.
        var best = (start: -1, len: 0)
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > best.len { best = (i, j - i) }
                i = j
            } else { i += 1 }
        }
        let hex = groups.map { String($0, radix: 16) }
        if best.len < 2 { return hex.joined(separator: ":") }
        groups.removeAll()
        let head = hex[0..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.len)...].joined(separator: ":")
        return head + "::" + tail
    }

    public static func < (a: HostAddress, b: HostAddress) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// Where a peer listens: an address and a port.
public struct PeerAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var host: HostAddress
    public var port: UInt16

    public init(host: HostAddress, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `1.2.3.4:7946` or `[::1]:7946`. An IPv6 address needs its brackets: `fe80::1:80`
    /// is refused rather than guessed.
    public init?(_ text: String) {
        func port(_ p: Substring) -> UInt16? {
            guard !p.isEmpty, p.count <= 5, p.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return UInt16(p)
        }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                let host = HostAddress(String(text[text.index(after: text.startIndex)..<close])), !host.isIPv4,
                text[text.index(after: close)...].hasPrefix(":"),
                let p = port(text[text.index(close, offsetBy: 2)...])
            else { return nil }
            self.init(host: host, port: p)
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let host = HostAddress(String(parts[0])), host.isIPv4, let p = port(parts[1])
            else { return nil }
            self.init(host: host, port: p)
        }
    }

    public var description: String { host.isIPv4 ? "\(host):\(port)" : "[\(host)]:\(port)" }

    public static func < (a: PeerAddress, b: PeerAddress) -> Bool { (a.host, a.port) < (b.host, b.port) }
}
