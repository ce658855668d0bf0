#if Chat  // the package trait (Package.swift): off in `make release-overlay`
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ChatStore
import Conversation
import HearsayModel
import NativeWire
import RealmNative
import Realms

/// Which person a name or id prefix the user typed means.
extension ChatService {
    /// Resolves `query` (a handle, or a prefix of a node id) among the table and remembered peers.
    /// Friends are pinned by id: a handle that names a friend and strangers too is the friend (an
    /// exact match before a case-insensitive one), so nobody can shadow a friend by taking their
    /// name; only among equals is a name ambiguous.
    func resolve(_ query: String) throws(ChatError) -> NodeID {
        let q = query.lowercased()
        var handles: [NodeID: String] = [:]
        for (id, k) in remembered { handles[id] = k.handle }
        for (id, p) in peers { handles[id] = p.entry.handle }
        handles[identity.id] = nil
        let exact = handles.filter { $0.value == query }.map(\.key)
        let folded = handles.filter { $0.value.lowercased() == q }.map(\.key)
        func describe(_ ids: [NodeID]) -> String {
            ids.sorted().map { "\(handles[$0] ?? "?") (\($0.short)\(friendIDs.contains($0) ? ", a friend" : ""))" }
                .joined(separator: ", ")
        }
        let tiers = [exact.filter(friendIDs.contains), folded.filter(friendIDs.contains), exact, folded]
        if let tier = tiers.first(where: { !$0.isEmpty }) {
            if tier.count == 1 { return tier[0] }
            let hint = friendIDs.isDisjoint(with: tier) ? "give an id prefix instead, or make one a friend (hearsay friends add ID)"
                : "give an id prefix instead"
            throw ChatError("\(tier.count) people are called \(query): \(describe(tier)); \(hint)")
        }
        let compact = q.replacingOccurrences(of: "-", with: "")
        if compact.count >= 4 {
            let byID = handles.keys.filter { $0.base32.replacingOccurrences(of: "-", with: "").hasPrefix(compact) }
            if byID.count == 1 { return byID[0] }
            if byID.count > 1 { throw ChatError("the id prefix \(query) matches \(describe(byID)); give more of it") }
        }
        throw ChatError("nobody called \(query) is in the table (see `hearsay table`); give a handle or an id prefix of 4+ characters")
    }
}
#endif
