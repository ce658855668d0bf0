import Synchronization

/// Decides whether a received signed entry is authentic. The gossip state machine asks this for
/// every entry newer than what it holds; injected so the simulator can memoize the pure check.
public protocol EntryVerifier: Sendable {
    func isAuthentic(_ entry: SignedEntry) -> Bool
    /// Whether `claim` is signed by the holder of `claimantKey`.
    func isAuthentic(_ claim: Claim, claimantKey: [UInt8]) -> Bool
}

extension EntryVerifier {
    public func isAuthentic(_ claim: Claim, claimantKey: [UInt8]) -> Bool { claim.isAuthentic(claimantKey: claimantKey) }
}

/// Ed25519 verification, every time.
public struct Ed25519Verifier: EntryVerifier {
    public init() {}
    public func isAuthentic(_ entry: SignedEntry) -> Bool { entry.hasValidSignature }
}

/// Ed25519 verification remembered per exact (payload, signature): the answer is a pure function
/// of those bytes, so thousands of simulated nodes can share one real check per entry.
public final class MemoizingVerifier: EntryVerifier {
    private struct Key: Hashable {
        let payload: [UInt8]
        let signature: [UInt8]
    }

    private let memo = Mutex<[Key: Bool]>([:])
    private let claims = Mutex<[Claim: Bool]>([:])

    public init() {}

    public func isAuthentic(_ entry: SignedEntry) -> Bool {
        let key = Key(payload: entry.payload, signature: entry.signature)
        if let known = memo.withLock({ $0[key] }) { return known }
        let ok = entry.hasValidSignature
        memo.withLock { $0[key] = ok }
        return ok
    }

    public func isAuthentic(_ claim: Claim, claimantKey: [UInt8]) -> Bool {
        if let known = claims.withLock({ $0[claim] }) { return known }
        let ok = claim.isAuthentic(claimantKey: claimantKey)
        claims.withLock { $0[claim] = ok }
        return ok
    }
}
