#if Chat  // the package trait (Package.swift): off in `make release-overlay`
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ChatStore
import Conversation
import DequeModule
import HearsayModel
import Logging
import NativeWire
import RealmNative
import Realms

/// What the native endpoint reports: sessions, messages to store, acks, refusals.
extension ChatService {
    // MARK: NativeSessionDelegate (called on the loop)

    public func policy() -> SessionPolicy { policyNow }
    public func isFriend(_ id: NodeID) -> Bool { friendIDs.contains(id) }

    public func knows(_ id: NodeID, publicKey: [UInt8]) -> Bool {
        guard let p = peers[id] else { return false }
        return !p.entry.isForeign && p.entry.publicKey == publicKey
    }

    public func deliver(_ messages: [ChatMessage], from peer: NodeID, done: @escaping @Sendable (Bool) -> Void) {
        writer.submit(messages.map { .receive($0, from: peer) }) { results in
            done(results != nil)
            guard let results else {
                // Nacked by the endpoint: they stay in the sender's outbox (the writer logged why).
                self.loop.execute { self.count("not-stored", messages.count) }
                return
            }
            self.loop.execute {
                let sink = self.onEvent
                let stored = results.filter { $0 }.count
                self.count("received", stored)
                self.count("duplicates", results.count - stored)
                guard let sink else { return }
                for (m, new) in zip(messages, results) where new {
                    sink(ChatEventLine(type: "message", message: self.row(m, peer: peer, direction: .incoming, state: .received)))
                }
            }
        }
    }

    public func acknowledged(_ id: MessageID, by peer: NodeID) {
        guard pending.removeValue(forKey: id) != nil else { return }
        if order[peer]?.first == id { order[peer]?.removeFirst() }
        count("delivered")
        writer.submit([.acknowledged(id)])
        onEvent?(ChatEventLine(type: "state", id: id.description, state: "delivered", peer: peer.base32))
    }

    /// The peer did not store a message (ADR 0011): back to waiting, due after the peer's delay
    /// (bounded by the retry policy's longest). Its place in the outbox is kept, so what follows
    /// it waits for it. Logged once a minute per peer at most.
    public func refused(_ id: MessageID, by peer: NodeID, retryAfterMillis: UInt32, reason: String) {
        guard var item = pending[id] else { return }
        let now = Self.nowMillis()
        item.inFlight = false
        item.nextAttemptMillis = now + min(max(Int64(retryAfterMillis), 100), options.retry.maxMillis)
        pending[id] = item
        count("refused-by-peer")
        if now - (refusalLogged[peer] ?? 0) >= 60_000 {
            refusalLogged[peer] = now
            log.warning("\(name(peer)) did not store a message: \(reason)",
                        metadata: ["peer": "\(peer.short)", "retry-ms": "\(retryAfterMillis)"])
        }
    }

    public func sessionRequested(by peer: NodeID, handle: String) {
        requests[peer] = (handle, Self.nowMillis())
        log.notice("session request waits for your answer (hearsay requests)", metadata: ["peer": "\(handle) \(peer.short)"])
        onEvent?(ChatEventLine(type: "request", peer: peer.base32, handle: handle))
    }

    public func event(_ event: NativeEvent) {
        switch event {
        case .opened(let peer):
            open.insert(peer)
            count("sessions-opened")
            log.debug("session open", metadata: ["peer": "\(name(peer))"])
            onEvent?(ChatEventLine(type: "session", state: "open", peer: peer.base32, handle: name(peer)))
            send(to: peer, force: true)  // what waited for this peer goes now, whoever dialed
        case .closed(let peer, let reason, let detail):
            count("closed-" + String(describing: reason).replacingOccurrences(of: " ", with: "-"))
            if let peer {
                requests[peer] = nil
                let now = Self.nowMillis()
                // Closed before a session opened: often a peer that restarted and does not know
                // this node's key yet. Gossip tells it now (at most every second), and the first
                // tries come again within half a second rather than after their backoff.
                let early = open.remove(peer) == nil
                if early, now - (introduced[peer] ?? 0) >= 1_000 {
                    introduced[peer] = now
                    introduce?(peer)
                }
                for id in order[peer] ?? [] {
                    guard var item = pending[id], item.inFlight else { continue }
                    item.inFlight = false
                    let backoff = options.retry.delay(afterAttempts: max(0, item.attempts - 1))
                    item.nextAttemptMillis = now + (early && item.attempts <= 5 ? min(backoff, 500) : backoff)
                    pending[id] = item
                }
            }
            let level: Logger.Level = reason == .normal || reason == .duplicateConnection ? .debug : .notice
            log.log(level: level, "chat connection closed: \(detail)", metadata: ["peer": "\(peer.map(name) ?? "?")", "reason": "\(reason)"])
            onEvent?(ChatEventLine(type: "session", state: "closed", peer: peer?.base32, handle: peer.map(name), detail: "\(reason): \(detail)"))
        case .declinedBy(let peer):
            declined[peer] = Self.nowMillis()
            log.notice("\(name(peer)) declined the session: messages to it wait in the outbox until you send again")
            onEvent?(ChatEventLine(type: "session", state: "declined", peer: peer.base32, handle: name(peer),
                                   detail: "declined the session"))
        case .ignored(let peer, let what):
            count("ignored")
            log.notice("ignored \(what)", metadata: ["peer": "\(name(peer))"])
        case .refused(let why):
            count("refused")
            log.warning("chat connection refused: \(why)")
            onEvent?(ChatEventLine(type: "session", state: "refused", detail: why))
        case .typing(let peer, let on):
            onEvent?(ChatEventLine(type: "typing", peer: peer.base32, handle: name(peer), on: on))
        case .read(let peer, let id):
            writer.submit([.markRead(id)])
            onEvent?(ChatEventLine(type: "read", id: id.description, state: "read", peer: peer.base32))
        }
    }
}
#endif
