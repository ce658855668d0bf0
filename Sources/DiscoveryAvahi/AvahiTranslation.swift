import CAvahi
import Discovery
import Glibc
import HearsayModel

/// C values from Avahi callbacks, as Swift values.
enum AvahiTranslation {
    static func txt(_ list: UnsafeMutablePointer<AvahiStringList>?) -> [String: String] {
        var out = [String: String]()
        var l = list
        while let item = l {
            let bytes = UnsafeBufferPointer(start: hearsay_avahi_strlst_text(item), count: hearsay_avahi_strlst_size(item))
            TXTRecord.add(bytes, to: &out)
            l = hearsay_avahi_strlst_next(item)
        }
        return out
    }

    static func address(_ lib: AvahiLibrary, _ a: UnsafePointer<AvahiAddress>?) -> HostAddress? {
        guard let a else { return nil }
        var text = [CChar](repeating: 0, count: Int(AVAHI_ADDRESS_STR_MAX))
        guard lib.api.avahi_address_snprint(&text, text.count, a) != nil else { return nil }
        return HostAddress(string(text))
    }

    static func interfaceName(_ index: AvahiIfIndex) -> String {
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard index >= 0, if_indextoname(UInt32(index), &name) != nil else { return "if\(index)" }
        return string(name)
    }

    /// A NUL-terminated C string in a buffer, as a String.
    static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func key(name: UnsafePointer<CChar>?, interface: AvahiIfIndex, protocol p: AvahiProtocol) -> ServiceKey {
        ServiceKey(name: name.map { String(cString: $0) } ?? "", interface: interface, ipv6: p == hearsay_avahi_proto_inet6())
    }
}
