/// The strings of a browsed DNS-SD TXT record as the keys and values `HearsayService(txt:)` and
/// `LinkLocalPresence(instance:port:txt:)` read (RFC 6763 §6): each string is `key=value`, split at
/// its first `=`; a string without `=` is a key with an empty value. Bytes that are not UTF-8
/// read as U+FFFD. A key seen twice keeps the later string's value.
public enum TXTRecord {
    public static func add(_ string: some Collection<UInt8>, to txt: inout [String: String]) {
        if let eq = string.firstIndex(of: UInt8(ascii: "=")) {
            txt[String(decoding: string[..<eq], as: UTF8.self)] =
                String(decoding: string[string.index(after: eq)...], as: UTF8.self)
        } else {
            txt[String(decoding: string, as: UTF8.self)] = ""
        }
    }

    public static func dictionary(_ strings: some Sequence<some Collection<UInt8>>) -> [String: String] {
        var txt = [String: String]()
        for s in strings { add(s, to: &txt) }
        return txt
    }
}
