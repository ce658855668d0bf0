import Foundation
import Testing

/// The tests of this target are synchronous: they spawn `hearsay` processes and wait for them
/// (`waitpid`, `usleep` in `poll`). Swift Testing calls a synchronous test from a task, so it
/// runs on the cooperative pool, which has one thread per core: on a 2-core CI machine two such
/// tests held both threads for minutes, and every async test of the run (NativeEndpointTests,
/// XMPPEndpointTests...) stood still meanwhile — a 5 s wait took 135 s and the endpoints' timers
/// went by (a refusal window of 30 s expired between two lines of a test).
///
/// This trait runs the tests it marks on their own threads instead (a task executor preference),
/// one at a time, while the cooperative pool stays free for the async tests.
struct BlockingLane: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        // Suites are scoped too (testCase nil): only a test case needs the lane.
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(LaneExecutor.shared) { try await function() }
    }
}

extension Trait where Self == BlockingLane {
    /// Runs each test of the suite on the blocking lane (see `BlockingLane`).
    static var blockingLane: BlockingLane { BlockingLane() }
}

/// A task executor on `width` threads of its own, jobs in arrival order.
final class LaneExecutor: TaskExecutor, @unchecked Sendable {
    /// One at a time: each of these tests runs one to twenty nodes, and the async tests now run
    /// beside them; two at a time (what the cooperative pool allowed before) made the 20-node
    /// cluster and the tmux chat miss their deadlines on 2 cores.
    static let shared = LaneExecutor(width: 1)

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var threads: Set<UInt> = []

    /// Whether the caller runs on one of this executor's threads.
    var isCurrentThreadOfLane: Bool {
        condition.lock()
        defer { condition.unlock() }
        return threads.contains(UInt(pthread_self()))
    }

    init(width: Int) {
        for n in 0..<width {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "blocking-lane-\(n)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        condition.lock()
        threads.insert(UInt(pthread_self()))
        condition.unlock()
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

@Suite(.blockingLane) struct BlockingLaneTests {
    @Test("a test marked with the lane runs on one of its threads, not on the cooperative pool")
    func runsOnTheLane() {
        #expect(LaneExecutor.shared.isCurrentThreadOfLane)
    }
}
