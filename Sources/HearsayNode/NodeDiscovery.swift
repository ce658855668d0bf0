import Discovery
import DiscoveryAvahi
import Gossip
import GossipNIO
import HearsayModel
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// How the node finds peers on its LAN.
public enum MDNSMode: String, Sendable, CaseIterable {
    /// The system avahi-daemon if it answers on D-Bus at start; otherwise one line says discovery
    /// is off and how to turn it on, and the node runs with seeds only.
    case auto
    /// The system avahi-daemon, waiting for it if it is not running yet or restarts.
    case daemon
    /// No mDNS: seeds only.
    case off
}

/// LAN discovery for a running node: publishes `_hearsay._udp` through avahi-daemon, feeds
/// resolved peers to gossip as join candidates (deduplicated by node id in `PeerFinder`), and keeps
/// the node's advertised addresses in step with its interfaces.
///
/// Threading: Avahi's callbacks hand events to the gossip shell's event loop; `finder` and the
/// advertised state are only touched there.
public final class NodeDiscovery: @unchecked Sendable {
    let shell: GossipShell
    let log: Logger
    let filter: InterfaceFilter
    let handle: String
    let gossipPort: UInt16
    /// The chat port the node listens on (0 with `--chat off`), in the TXT record's `chat` key.
    let chatPort: UInt16
    var finder: PeerFinder
    var avahi: AvahiDiscovery?
    /// Link-local XMPP users on this LAN (`_presence._tcp`, issue 6): a second Avahi client,
    /// browsing only; each user becomes a foreign entry this node publishes and retracts.
    var presenceAvahi: AvahiDiscovery?
    var observer: PresenceObserver
    let me: NodeID
    /// When presence browsing started (loop time, ms), for the reconciliation below.
    var presenceSince: Int64?
    var reconcile: RepeatedTask?
    var published: String?
    /// `running`, `waiting` or `off`, and why (on the loop).
    var state = (name: "waiting", detail: "connecting to avahi-daemon")

    init(shell: GossipShell, me: NodeID, handle: String, gossipPort: UInt16, chatPort: UInt16 = 0, filter: InterfaceFilter,
         log: Logger) {
        self.chatPort = chatPort
        self.shell = shell
        self.log = log
        self.filter = filter
        self.handle = handle
        self.gossipPort = gossipPort
        finder = PeerFinder(me: me, filter: filter)
        observer = PresenceObserver(filter: filter)
        self.me = me
    }

    /// Starts mDNS per `mode`. Returns the one line to print when `auto` finds no daemon.
    func start(mode: MDNSMode, me: NodeID) -> String? {
        guard mode != .off else { return nil }
        if mode == .auto, case .failure(let why) = AvahiDiscovery.probeDaemon() {
            return "mDNS discovery is off: \(why). Start avahi-daemon (e.g. `sudo systemctl start avahi-daemon`) and "
                + "restart the node, or pass --mdns daemon to wait for it; running with seeds only."
        }
        do {
            let avahi = try AvahiDiscovery(browse: HearsayService.type) { [weak self] event in
                guard let self else { return }
                self.shell.loop.execute { self.handle(event) }
            }
            self.avahi = avahi
            let service = HearsayService(id: me, gossipPort: gossipPort, chatPort: chatPort)
            let interfaces = (try? Self.localInterfaces()) ?? []
            avahi.publish(ServiceAdvert(
                name: HearsayService.instanceName(handle: handle, host: Self.hostName()), type: HearsayService.type,
                port: gossipPort, txt: service.txt, interfaces: Self.publishInterfaces(interfaces, filter)))
            if mode == .daemon { log.info("mDNS: using avahi-daemon (waiting for it if it is not running)") }
            startPresence()
            return nil
        } catch {
            return "mDNS discovery is off: \(error); running with seeds only."
        }
    }

    func stop() {
        reconcile?.cancel()
        presenceAvahi?.stop()
        presenceAvahi = nil
        avahi?.stop()
        avahi = nil
    }

    // MARK: Link-local XMPP users (issue 6)

    /// Browses `_presence._tcp`. Failing to is logged and leaves native discovery running.
    func startPresence() {
        do {
            presenceAvahi = try AvahiDiscovery(browse: LinkLocalPresence.type) { [weak self] event in
                guard let self else { return }
                self.shell.loop.execute { self.handlePresence(event) }
            }
        } catch {
            log.warning("mDNS: not observing link-local XMPP users: \(error)")
            return
        }
        // Every 5 s: take over users whose publishing node went, retract entries of an earlier
        // life (a crash left them in everyone's table) for users no longer seen.
        reconcile = shell.loop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { [weak self] _ in
            self?.syncForeign()
        }
    }

    func handlePresence(_ event: DiscoveryEvent) {
        switch event {
        case .running(let host):
            if presenceSince == nil { presenceSince = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }
            if !presenceAnnounced {
                presenceAnnounced = true
                onPresenceRunning?(host)
            }
        case .published(let name):
            log.info("mDNS: link-local XMPP presence published", metadata: ["instance": "\(name)"])
        case .collision(let name, let renamed):
            log.warning("mDNS: the link-local XMPP name \(name) is taken on this LAN; published as \(renamed), which link-local clients will not match to this node's streams")
        case .failure(let reason):
            log.error("mDNS (link-local XMPP): \(reason)")
        default:
            break
        }
        for action in observer.handle(event) {
            switch action {
            case .publish(let p, let address):
                log.info("link-local XMPP user seen", metadata: ["instance": "\(p.instance)", "name": "\(p.displayName)",
                                                                "address": "\(address):\(p.port)", "status": "\(p.status)"])
                changed.insert(p.instance)
            case .retract(let instance):
                log.info("link-local XMPP user gone", metadata: ["instance": "\(instance)"])
                changed.insert(instance)
            }
        }
        syncForeign()
    }

    /// Brings this node's foreign entries in line with what it observes. Every Hearsay node on a
    /// LAN sees the same link-local users; one entry per user is enough, so a node publishes a
    /// user only while no live node with a lower id publishes the same user (same instance name
    /// and address); if that node goes, the next one takes over here, within 5 s. Users no longer
    /// observed are retracted at once; entries of an earlier life (a crash left them in everyone's
    /// table) once browsing has run for 5 s.
    func syncForeign() {
        let now = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
        let settled = presenceSince.map { now - $0 >= 5_000 } ?? false
        let observed = observer.published
        let realm = LinkLocalPresence.realm
        let me = self.me
        let changedNow = Set(changed.map { NodeID(foreignUser: $0, realm: realm, owner: me) })
        changed = []
        let log = self.log
        shell.actOnLoop { inst, now in
            var ds = [Directive]()
            var mine = Set(inst.ownForeign)
            for (instance, seen) in observed {
                let fid = NodeID(foreignUser: instance, realm: realm, owner: me)
                mine.remove(fid)
                let covered = inst.table.rows.values.contains { m in
                    let e = m.entry.entry
                    return !m.isNode && m.state == .alive && e.realm == realm && e.foreignName == instance
                        && e.addresses.first == seen.address && m.entry.owner < me
                        && inst.table[m.entry.owner]?.state.isLive == true
                }
                let live = inst.table[fid].map { $0.state == .alive } ?? false
                if covered {
                    if live { ds += inst.retractForeign(fid, now: now) }
                } else if !live || changedNow.contains(fid) {
                    do {
                        ds += try inst.publishForeign(name: instance, realm: realm, now: now) {
                            seen.presence.fill(&$0, address: seen.address)
                        }.directives
                    } catch {
                        log.warning("cannot publish the link-local user \(instance): \(error)")
                    }
                }
            }
            for fid in mine where settled || changedNow.contains(fid) { ds += inst.retractForeign(fid, now: now) }
            return ds
        }
    }

    /// Called once, on the loop, when the presence client first reaches the daemon, with the
    /// daemon's host name: the node then starts its link-local endpoint and publishes its user.
    var onPresenceRunning: (@Sendable (String) -> Void)?
    var presenceAnnounced = false
    /// What this node publishes on `_presence._tcp` for its own user (nil until it does).
    var ownPresence: LinkLocalPresence?

    /// Publishes this node's user to link-local XMPP clients (`node=hearsay`, so that other
    /// Hearsay nodes do not import it as a foreign user: it is in their table already).
    func publishPresence(_ p: LinkLocalPresence) {
        ownPresence = p
        publishAllPresences()
    }

    /// Remote Hearsay users this node stands in for on its LAN (ADR 0010): published beside its
    /// own user, same address and port, `node=hearsay-relay`.
    var standIns: [LinkLocalPresence] = []

    #if Chat
    func setStandIns(_ records: [LinkLocalPresenceRecord]) {
        guard let own = ownPresence else { return }
        standIns = records.map {
            LinkLocalPresence(instance: $0.instance, port: own.port, first: $0.first, status: $0.status,
                              node: PresenceObserver.hearsayNode + "-relay", ver: "1")
        }
        publishAllPresences()
    }
    #endif

    func publishAllPresences() {
        guard let own = ownPresence else { return }
        let interfaces = Self.publishInterfaces((try? Self.localInterfaces()) ?? [], filter)
        presenceAvahi?.publish(([own] + standIns).map {
            ServiceAdvert(name: $0.instance, type: LinkLocalPresence.type, port: $0.port, txt: $0.txt, interfaces: interfaces)
        })
    }

    /// The node's own entry changed: keep the published status and text in step.
    func ownEntryChanged(_ e: PresenceEntry) {
        guard var p = ownPresence, e.status != .offline, p.status != e.status || p.message != e.statusText else { return }
        p.status = e.status
        p.message = e.statusText
        publishPresence(p)  // with the stand-ins
    }

    /// Observed users whose record changed since their entry was last published.
    var changed: Set<String> = []

    // MARK: Events (on the shell's loop)

    func handle(_ event: DiscoveryEvent) {
        switch event {
        case .running(let host):
            state = ("running", "avahi-daemon on \(host).local")
            log.info("mDNS: avahi-daemon running", metadata: ["host": "\(host)"])
        case .waiting(let reason):
            state = ("waiting", reason)
            published = nil
            log.warning("mDNS: \(reason); waiting for it")
        case .published(let name):
            if published != name { log.info("mDNS: published", metadata: ["instance": "\(name)"]) }
            published = name
        case .collision(let name, let renamed):
            log.notice("mDNS: instance name taken, renamed", metadata: ["taken": "\(name)", "now": "\(renamed)"])
        case .failure(let reason):
            state = ("failed", reason)
            log.error("mDNS: \(reason)")
        case .resolved(let s):
            log.debug("mDNS: resolved", metadata: ["record": "\(s.key)", "address": "\(s.address):\(s.port)"])
        case .removed(let k): log.debug("mDNS: removed", metadata: ["record": "\(k)"])
        }
        for action in finder.handle(event) {
            switch action {
            case .join(let address, let id):
                log.info("mDNS: found \(id.short) at \(address)")
                shell.actOnLoop { inst, now in inst.discovered(address, id: id, now: now) }
            case .probeSoon(let id):
                shell.actOnLoop { inst, now in inst.probeSoon(id, now: now) }
            }
        }
    }

    // MARK: Interfaces

    /// Every address of every interface that is up.
    public static func localInterfaces() throws -> [LocalInterface] {
        try System.enumerateDevices().compactMap { d in
            guard let sa = d.address, let host = HostAddress(socketAddress: sa) else { return nil }
            let prefix = d.netmask.flatMap { HostAddress(socketAddress: $0) }.map { $0.bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
            return LocalInterface(name: d.name, index: Int32(d.interfaceIndex), address: host,
                                  prefixLength: prefix ?? (host.isIPv4 ? 32 : 128))
        }
    }

    /// Interface indexes to publish on: all (empty) unless the filter skips an interface that has
    /// an address here.
    static func publishInterfaces(_ all: [LocalInterface], _ filter: InterfaceFilter) -> [Int32] {
        let candidates = all.filter { !$0.isLoopback }
        guard candidates.contains(where: { !filter.allows($0.name) }) else { return [] }
        return Array(Set(candidates.filter { filter.allows($0.name) }.map(\.index))).sorted()
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.split(separator: ".").first.map(String.init) ?? name
    }
}

extension HostAddress {
    init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let a):
            let raw = UInt32(bigEndian: a.address.sin_addr.s_addr)
            self.init(bytes: [UInt8(raw >> 24), UInt8(raw >> 16 & 0xff), UInt8(raw >> 8 & 0xff), UInt8(raw & 0xff)])
        case .v6(let a):
            var addr = a.address.sin6_addr
            self.init(bytes: withUnsafeBytes(of: &addr) { Array($0) })
        default:
            return nil
        }
    }
}
