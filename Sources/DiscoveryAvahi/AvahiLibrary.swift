import CAvahi

/// Why Avahi cannot be used, with what to do about it.
public struct AvahiError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// libavahi-client, opened once per process on first use (CAvahi/shim.h says why at run time).
final class AvahiLibrary: @unchecked Sendable {
    let api: HearsayAvahiAPI

    private init() throws(AvahiError) {
        var api = HearsayAvahiAPI()
        var error = [CChar](repeating: 0, count: 256)
        guard hearsay_avahi_load(&api, &error, error.count) == 0 else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw AvahiError("libavahi-client is not installed (\(reason)): install it with `apt-get install libavahi-client3 avahi-daemon`")
        }
        self.api = api
    }

    private static let loaded: Result<AvahiLibrary, AvahiError> = Result { () throws(AvahiError) in try AvahiLibrary() }

    static func shared() throws(AvahiError) -> AvahiLibrary { try loaded.get() }

    func strerror(_ code: Int32) -> String { api.avahi_strerror(code).map { String(cString: $0) } ?? "error \(code)" }
}
