#if Chat
import ChatStore
import Dispatch
import Logging
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
    let log: Logger
    let pool: NIOThreadPool
    /// Runs the store's checkpoints, so that their fsyncs never hold up a commit.
    let checkpoints: NIOThreadPool
    /// Whether a checkpoint runs or waits, and when the last one started.
    let checkpointState = Mutex((busy: false, lastMillis: Int64(0)))
    let pending = Mutex(Pending())
    /// Commits done and operations written, for metrics and the benchmark.
    let counts = Mutex((commits: 0, ops: 0, failures: 0))

    /// Whether the last commit failed, and when a failure was last logged (writer's thread).
    let failing = Mutex((now: false, loggedMillis: Int64(0), unlogged: 0))

    init(store: ChatStore, log: Logger) {
        self.store = store
        self.log = log
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        checkpoints = NIOThreadPool(numberOfThreads: 1)
        checkpoints.start()
    }

    static func millis() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// After a commit: a passive checkpoint on the other thread, at most every 200 ms.
    func checkpointSoon() {
        let now = Self.millis()
        let go = checkpointState.withLock { s -> Bool in
            guard !s.busy, now - s.lastMillis >= 200 else { return false }
            s = (true, now)
            return true
        }
        guard go else { return }
        checkpoints.submit { _ in
            try? self.store.checkpoint()
            self.checkpointState.withLock { $0.busy = false }
        }
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
            var results: [Bool]?
            do { results = try store.commit(batch.ops) } catch { failed(error, ops: batch.ops.count) }
            if results != nil { recovered() }
            counts.withLock {
                $0.commits += 1
                $0.ops += batch.ops.count
                if results == nil { $0.failures += 1 }
            }
            for w in batch.waiters { w.done(results.map { Array($0[w.range]) }) }
            checkpointSoon()
        }
    }

    /// A commit failed: logged at once the first time, then at most every 10 s with the count
    /// of failures between (a full disk fails every retry). Nothing of the batch is written: no
    /// incoming message of it is acked (the endpoint nacks them), a queued one is refused to the
    /// user.
    func failed(_ error: StoreError, ops: Int) {
        let now = Self.millis()
        let line = failing.withLock { f -> Int? in
            f.now = true
            guard f.loggedMillis == 0 || now - f.loggedMillis >= 10_000 else {
                f.unlogged += 1
                return nil
            }
            defer { f.loggedMillis = now; f.unlogged = 0 }
            return f.unlogged
        }
        guard let more = line else { return }
        let text = "chat store write failed: \(error); \(ops) operation(s) not written (incoming messages stay in "
            + "their senders' outboxes and come again)"
        log.error("\(text)", metadata: ["failures-since-last-line": "\(more)"])
    }

    /// A commit went through after failures: say so once.
    func recovered() {
        let was = failing.withLock { f -> Bool in
            defer { f = (false, 0, 0) }
            return f.now
        }
        if was { log.notice("chat store writes again") }
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
        try? await checkpoints.shutdownGracefully()
        try? store.checkpoint(truncate: true)
    }
}
#endif
