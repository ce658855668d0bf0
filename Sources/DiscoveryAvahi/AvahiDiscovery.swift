import CAvahi
import Discovery
import HearsayModel

/// What a node publishes: one DNS-SD service.
public struct ServiceAdvert: Hashable, Sendable {
    /// The instance name wanted ("handle on host"); Avahi may publish another on collision.
    public var name: String
    public var type: String
    public var port: UInt16
    public var txt: [String]
    /// Interface indexes to publish on; empty: every interface the daemon uses.
    public var interfaces: [Int32]

    public init(name: String, type: String, port: UInt16, txt: [(key: String, value: String)], interfaces: [Int32] = []) {
        self.name = name
        self.type = type
        self.port = port
        self.txt = txt.map { "\($0.key)=\($0.value)" }
        self.interfaces = interfaces
    }
}

/// DNS-SD through the system avahi-daemon (libavahi-client over D-Bus): publishes one service and
/// browses and resolves one service type.
///
/// Threading: Avahi runs its own thread (a threaded poll). Its callbacks run there with the poll
/// lock held; they only translate C values into `DiscoveryEvent`s and hand them to `onEvent`,
/// which must not block. Every call from another thread takes the poll lock. All mutable state
/// below is touched only under that lock.
///
/// The client is created with `AVAHI_CLIENT_NO_FAIL`: a daemon that is missing or restarting is a
/// waiting state. When it comes back the service is registered again and browsing restarts.
public final class AvahiDiscovery: @unchecked Sendable {
    let lib: AvahiLibrary
    let poll: OpaquePointer
    let browseType: String
    let onEvent: @Sendable (DiscoveryEvent) -> Void

    // Under the poll lock.
    var client: OpaquePointer?
    var group: OpaquePointer?
    var browser: OpaquePointer?
    var resolvers: [ServiceKey: OpaquePointer] = [:]
    /// What to publish, in one entry group, and the name each is published under (after renames).
    var adverts: [ServiceAdvert] = []
    var publishedNames: [String: String] = [:]
    var stopped = false

    /// Whether an avahi-daemon answers on the system D-Bus right now: its host name and version,
    /// or why not. Leaves nothing running.
    public static func probeDaemon() -> Result<(hostName: String, version: String), AvahiError> {
        let lib: AvahiLibrary
        do { lib = try AvahiLibrary.shared() } catch { return .failure(error) }
        guard let poll = lib.api.avahi_threaded_poll_new() else { return .failure(AvahiError("out of memory")) }
        defer { lib.api.avahi_threaded_poll_free(poll) }
        var error: Int32 = 0
        guard let c = lib.api.avahi_client_new(lib.api.avahi_threaded_poll_get(poll), AvahiClientFlags(0), { _, _, _ in },
                                                nil, &error)
        else {
            return .failure(AvahiError("avahi-daemon is not reachable over D-Bus (\(lib.strerror(error)))"))
        }
        defer { lib.api.avahi_client_free(c) }
        let host = lib.api.avahi_client_get_host_name(c).map { String(cString: $0) } ?? "?"
        let version = lib.api.avahi_client_get_version_string(c).map { String(cString: $0) } ?? "?"
        return .success((host, version))
    }

    /// Connects to the daemon (or starts waiting for it) and browses for `browseType`.
    public init(browse browseType: String, onEvent: @escaping @Sendable (DiscoveryEvent) -> Void) throws(AvahiError) {
        lib = try AvahiLibrary.shared()
        guard let poll = lib.api.avahi_threaded_poll_new() else { throw AvahiError("avahi: out of memory") }
        self.poll = poll
        self.browseType = browseType
        self.onEvent = onEvent
        // The poll thread is not running yet: no lock needed until start.
        try connect()
        guard lib.api.avahi_threaded_poll_start(poll) == 0 else {
            if let c = client { lib.api.avahi_client_free(c) }
            lib.api.avahi_threaded_poll_free(poll)
            throw AvahiError("avahi: cannot start its thread")
        }
    }

    /// Publishes `advert` (replacing what was published), now if the daemon runs, else when it does.
    public func publish(_ advert: ServiceAdvert) { publish([advert]) }

    /// Publishes these services together (replacing what was published): the node's own
    /// presence and the stand-ins it carries for remote users (ADR 0010). Names kept from the
    /// last publication keep their renames.
    public func publish(_ adverts: [ServiceAdvert]) {
        locked {
            guard self.adverts != adverts else { return }
            self.adverts = adverts
            let wanted = Set(adverts.map(\.name))
            publishedNames = publishedNames.filter { wanted.contains($0.key) }
            register()
        }
    }

    /// Withdraws everything and stops Avahi's thread. Idempotent.
    public func stop() {
        guard !locked({ () -> Bool in
            defer { stopped = true }
            return stopped
        }) else { return }
        _ = lib.api.avahi_threaded_poll_stop(poll)
        // The thread has ended: nothing else touches the state now.
        for (_, r) in resolvers { _ = lib.api.avahi_service_resolver_free(r) }
        resolvers = [:]
        if let b = browser { _ = lib.api.avahi_service_browser_free(b) }
        if let g = group { _ = lib.api.avahi_entry_group_free(g) }
        if let c = client { lib.api.avahi_client_free(c) }
        browser = nil
        group = nil
        client = nil
        lib.api.avahi_threaded_poll_free(poll)
    }

    deinit { stop() }

    func locked<T>(_ body: () -> T) -> T {
        lib.api.avahi_threaded_poll_lock(poll)
        defer { lib.api.avahi_threaded_poll_unlock(poll) }
        return body()
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ p: UnsafeMutableRawPointer?) -> AvahiDiscovery {
        Unmanaged<AvahiDiscovery>.fromOpaque(p!).takeUnretainedValue()
    }

    // MARK: Client

    func connect() throws(AvahiError) {
        var error: Int32 = 0
        let c = lib.api.avahi_client_new(lib.api.avahi_threaded_poll_get(poll), AVAHI_CLIENT_NO_FAIL, { c, state, ctx in
            AvahiDiscovery.from(ctx).clientChanged(c, state)
        }, context, &error)
        guard let c else { throw AvahiError("avahi: cannot create a client: \(lib.strerror(error))") }
        client = c
    }

    func clientChanged(_ c: OpaquePointer?, _ state: AvahiClientState) {
        guard let c, !stopped else { return }
        client = c  // the first callback comes from inside avahi_client_new, before it returns
        switch state {
        case AVAHI_CLIENT_S_RUNNING:
            onEvent(.running(hostName: lib.api.avahi_client_get_host_name(c).map { String(cString: $0) } ?? "?"))
            register()
            browse()
        case AVAHI_CLIENT_S_COLLISION, AVAHI_CLIENT_S_REGISTERING:
            // The daemon is (re)registering its host name: our records go back once it runs.
            if let g = group { _ = lib.api.avahi_entry_group_reset(g) }
        case AVAHI_CLIENT_CONNECTING:
            dropServerObjects()
            onEvent(.waiting(reason: "avahi-daemon is not running (or not reachable over D-Bus)"))
        case AVAHI_CLIENT_FAILURE:
            let err = lib.api.avahi_client_errno(c)
            dropServerObjects()
            lib.api.avahi_client_free(c)
            client = nil
            if err == AVAHI_ERR_DISCONNECTED {
                // The daemon went away: wait for the next one.
                onEvent(.waiting(reason: "avahi-daemon went away"))
                do { try connect() } catch { onEvent(.failure(error.description)) }
            } else {
                onEvent(.failure("avahi client failed: \(lib.strerror(err))"))
            }
        default:
            break
        }
    }

    /// The daemon's objects behind our group, browser and resolvers are gone with it.
    func dropServerObjects() {
        for (_, r) in resolvers { _ = lib.api.avahi_service_resolver_free(r) }
        resolvers = [:]
        if let b = browser { _ = lib.api.avahi_service_browser_free(b) }
        browser = nil
        if let g = group { _ = lib.api.avahi_entry_group_free(g) }
        group = nil
    }

    // MARK: Publishing

    /// Adds the adverts to a fresh or reset entry group and commits it; picks Avahi's alternative
    /// names while a name is taken on this host. An empty list withdraws everything.
    func register() {
        guard !stopped, let c = client, lib.api.avahi_client_get_state(c) == AVAHI_CLIENT_S_RUNNING else { return }
        if group == nil {
            guard !adverts.isEmpty else { return }
            group = lib.api.avahi_entry_group_new(c, { g, state, ctx in
                AvahiDiscovery.from(ctx).groupChanged(g, state)
            }, context)
        }
        guard let g = group else {
            onEvent(.failure("avahi: cannot create an entry group: \(lib.strerror(lib.api.avahi_client_errno(c)))"))
            return
        }
        _ = lib.api.avahi_entry_group_reset(g)
        guard !adverts.isEmpty else { return }
        for _ in 0..<32 {
            var collided: ServiceAdvert?
            for advert in adverts {
                let name = publishedNames[advert.name] ?? advert.name
                let result = add(advert, name: name, to: g)
                if result == AVAHI_ERR_COLLISION {
                    collided = advert
                    break
                }
                guard result == 0 else {
                    onEvent(.failure("avahi: cannot add the service \"\(name)\": \(lib.strerror(result))"))
                    return
                }
            }
            if let advert = collided {
                let name = publishedNames[advert.name] ?? advert.name
                let renamed = alternative(name)
                onEvent(.collision(name: name, renamed: renamed))
                publishedNames[advert.name] = renamed
                _ = lib.api.avahi_entry_group_reset(g)
                continue
            }
            for advert in adverts where publishedNames[advert.name] == nil { publishedNames[advert.name] = advert.name }
            let committed = lib.api.avahi_entry_group_commit(g)
            if committed != 0 { onEvent(.failure("avahi: cannot publish: \(lib.strerror(committed))")) }
            return
        }
        onEvent(.failure("avahi: no free instance name after 32 tries"))
    }

    func add(_ advert: ServiceAdvert, name: String, to g: OpaquePointer) -> Int32 {
        var txt: UnsafeMutablePointer<AvahiStringList>? = nil
        for pair in advert.txt.reversed() {  // the list is built by prepending
            let eq = pair.firstIndex(of: "=")!
            txt = lib.api.avahi_string_list_add_pair(txt, String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
        }
        defer { lib.api.avahi_string_list_free(txt) }
        let interfaces = advert.interfaces.isEmpty ? [hearsay_avahi_if_unspec()] : advert.interfaces
        for i in interfaces {
            let r = lib.api.avahi_entry_group_add_service_strlst(
                g, i, hearsay_avahi_proto_unspec(), AvahiPublishFlags(0), name, advert.type, nil, nil, advert.port, txt)
            if r != 0 { return r }
        }
        return 0
    }

    func alternative(_ name: String) -> String {
        guard let p = lib.api.avahi_alternative_service_name(name) else { return name + " #2" }
        defer { lib.api.avahi_free(p) }
        return String(cString: p)
    }

    func groupChanged(_ g: OpaquePointer?, _ state: AvahiEntryGroupState) {
        guard !stopped, let g, g == group || group == nil else { return }
        switch state {
        case AVAHI_ENTRY_GROUP_ESTABLISHED:
            for advert in adverts { onEvent(.published(name: publishedNames[advert.name] ?? advert.name)) }
        case AVAHI_ENTRY_GROUP_COLLISION:
            // Another host publishes one of our names (Avahi does not say which): every name
            // takes its next alternative, and the group is registered again.
            for advert in adverts {
                let old = publishedNames[advert.name] ?? advert.name
                let renamed = alternative(old)
                onEvent(.collision(name: old, renamed: renamed))
                publishedNames[advert.name] = renamed
            }
            group = g
            register()
        case AVAHI_ENTRY_GROUP_FAILURE:
            let err = client.map { lib.api.avahi_client_errno($0) } ?? 0
            onEvent(.failure("avahi: publishing failed: \(lib.strerror(err))"))
        default:
            break
        }
    }

    // MARK: Browsing

    func browse() {
        guard !stopped, browser == nil, let c = client else { return }
        browser = lib.api.avahi_service_browser_new(
            c, hearsay_avahi_if_unspec(), hearsay_avahi_proto_unspec(), browseType, nil, AvahiLookupFlags(0),
            { _, interface, proto, event, name, type, domain, _, ctx in
                AvahiDiscovery.from(ctx).browsed(interface, proto, event, name, type, domain)
            }, context)
        if browser == nil {
            onEvent(.failure("avahi: cannot browse \(browseType): \(lib.strerror(lib.api.avahi_client_errno(c)))"))
        }
    }

    func browsed(_ interface: AvahiIfIndex, _ proto: AvahiProtocol, _ event: AvahiBrowserEvent,
                 _ name: UnsafePointer<CChar>?, _ type: UnsafePointer<CChar>?, _ domain: UnsafePointer<CChar>?) {
        guard !stopped, let c = client else { return }
        let key = AvahiTranslation.key(name: name, interface: interface, protocol: proto)
        switch event {
        case AVAHI_BROWSER_NEW:
            guard resolvers[key] == nil else { return }
            // Resolve in the record's own address family; keep the resolver: it reports changes.
            let r = lib.api.avahi_service_resolver_new(
                c, interface, proto, name, type, domain, proto, AvahiLookupFlags(0),
                { r, interface, proto, event, name, _, _, host, address, port, txt, _, ctx in
                    AvahiDiscovery.from(ctx).resolved(r, interface, proto, event, name, host, address, port, txt)
                }, context)
            if let r { resolvers[key] = r }
        case AVAHI_BROWSER_REMOVE:
            if let r = resolvers.removeValue(forKey: key) { _ = lib.api.avahi_service_resolver_free(r) }
            onEvent(.removed(key))
        case AVAHI_BROWSER_FAILURE:
            onEvent(.failure("avahi: browsing failed: \(lib.strerror(lib.api.avahi_client_errno(c)))"))
        default:
            break  // CACHE_EXHAUSTED, ALL_FOR_NOW
        }
    }

    func resolved(_ r: OpaquePointer?, _ interface: AvahiIfIndex, _ proto: AvahiProtocol, _ event: AvahiResolverEvent,
                  _ name: UnsafePointer<CChar>?, _ host: UnsafePointer<CChar>?, _ address: UnsafePointer<AvahiAddress>?,
                  _ port: UInt16, _ txt: UnsafeMutablePointer<AvahiStringList>?) {
        guard !stopped else { return }
        let key = AvahiTranslation.key(name: name, interface: interface, protocol: proto)
        guard event == AVAHI_RESOLVER_FOUND, let a = AvahiTranslation.address(lib, address) else {
            // Timed out (the record's host stopped answering): forget the resolver; a new
            // browse event will make another.
            if let r, resolvers[key] == r {
                resolvers[key] = nil
                _ = lib.api.avahi_service_resolver_free(r)
            }
            return
        }
        onEvent(.resolved(ResolvedService(
            key: key, interfaceName: AvahiTranslation.interfaceName(interface),
            hostName: host.map { String(cString: $0) } ?? "", address: a, port: port,
            txt: AvahiTranslation.txt(txt))))
    }
}
