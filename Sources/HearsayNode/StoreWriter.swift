#if Chat
import ChatStore
import NIOPosix
import Synchronization

/// Group commit for the chat store: writes submitted from the event loop (a message queued, a
/// batch received, acks) gather while the previous commit runs, and go to SQLite in one
/// transaction on the writer's own thread, so the loop never waits for the disk and the commit
/// rate does not bound the message rate. Each submitter gets its own results once the batch
/// holding them is durable (`nil` if the commit failed: nothing of it is acknowledged, the
/// sender tries again).
final class StoreWriter: Sendable {
    typealias Done = @Sendable ([Bool]?) -> Void

    struct Pending {
        var ops: [StoreOp] = []
        var waiters: [(range: Range<Int>, done: Done)] = []
        var draining = false
    }

    let store: ChatStore
    let pool: NIOThreadPool
    let pending = Mutex(Pending())
    /// Commits done and operations written, for metrics and the benchmark.
    let counts = Mutex((commits: 0, ops: 0, failures: 0))

    init(store: ChatStore) {
        self.store = store
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    /// Queues `ops` for the next commit; `done` runs on the writer's thread after it.
    func submit(_ ops: [StoreOp], done: Done? = nil) {
        guard !ops.isEmpty else {
            done?([])
            return
        }
        let start = pending.withLock { p -> Bool in
            let lower = p.ops.count
            p.ops += ops
            if let done { p.waiters.append((lower..<p.ops.count, done)) }
            defer { p.draining = true }
            return !p.draining
        }
        if start { pool.submit { _ in self.drain() } }
    }

    /// Commits everything pending, again and again until nothing is left.
    func drain() {
        while true {
            let batch = pending.withLock { p -> Pending? in
                guard !p.ops.isEmpty else {
                    p.draining = false
                    return nil
                }
                defer { p = Pending(draining: true) }
                return p
            }
            guard let batch else { return }
            let results = try? store.commit(batch.ops)
            counts.withLock {
                $0.commits += 1
                $0.ops += batch.ops.count
                if results == nil { $0.failures += 1 }
            }
            for w in batch.waiters { w.done(results.map { Array($0[w.range]) }) }
        }
    }

    /// Waits for what is pending, then stops the thread.
    func close() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            pool.submit { _ in
                self.drain()
                c.resume()
            }
        }
        try? await pool.shutdownGracefully()
    }
}
#endif
