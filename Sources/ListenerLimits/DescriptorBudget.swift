#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The descriptors of this process that network listeners may take between them (issue 11,
/// point 6): the rest stays for the control API, outgoing sessions and files, so a flood of
/// connections never leaves the node unable to answer its user or to deliver a message.
/// One per process, made by the composition root and handed to every listener.
public final class DescriptorBudget: Sendable {
    /// The descriptor limit of the process (RLIMIT_NOFILE, soft).
    public let limit: Int
    /// What network listeners leave untouched.
    public let reserve: Int
    private let inUse = Atomic<Int>(0)

    public init(limit: Int, reserve: Int) {
        self.limit = limit
        self.reserve = min(reserve, limit)
    }

    /// The process's own: its soft limit raised to the hard one (at most 65,536), and `reserve`
    /// or a quarter of the limit, whichever is more.
    public static func forThisProcess(reserve: Int) -> DescriptorBudget {
        var r = rlimit()
        if getrlimit(RLIMIT_NOFILE_VALUE, &r) == 0 {
            let want = min(r.rlim_max, 65_536)
            if r.rlim_cur < want {
                var raised = r
                raised.rlim_cur = want
                if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { r = raised }
            }
            let limit = Int(r.rlim_cur)
            return DescriptorBudget(limit: limit, reserve: max(reserve, limit / 4))
        }
        return DescriptorBudget(limit: 1_024, reserve: max(reserve, 256))
    }

    /// Takes one descriptor for an accepted connection; false if that would eat into the reserve.
    public func acquire() -> Bool {
        let before = inUse.add(1, ordering: .relaxed).oldValue
        guard before < limit - reserve else {
            inUse.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    public func release() { inUse.subtract(1, ordering: .relaxed) }

    /// Accepted connections holding a descriptor now.
    public var taken: Int { inUse.load(ordering: .relaxed) }
}

#if canImport(Glibc)
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif
