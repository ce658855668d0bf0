import Gossip
import HearsayModel

/// The pair keys this node shares with the members it exchanges datagrams with, agreed once per
/// member (one X25519 and one HKDF) and kept, bounded: when full, the cache starts afresh (a
/// key costs about 60 µs to agree again).
struct PairKeys {
    static let capacity = 4096
    private var keys: [NodeID: (agreementKey: [UInt8], key: PairKey)] = [:]

    /// The key shared with `peer` as the table knows it, or nil if the table does not hold it as
    /// a node with a valid agreement key.
    mutating func key(for peer: NodeID, in instance: GossipInstance) -> PairKey? {
        guard let m = instance.table[peer], m.isNode else { return nil }
        let agreementKey = m.entry.entry.agreementKey
        if let k = keys[peer], k.agreementKey == agreementKey { return k.key }
        guard let key = instance.identity.pairKey(with: peer, agreementKey: agreementKey) else { return nil }
        if keys.count >= Self.capacity { keys.removeAll(keepingCapacity: true) }
        keys[peer] = (agreementKey, key)
        return key
    }
}
