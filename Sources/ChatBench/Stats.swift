#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Histogram

/// Monotonic nanoseconds (CLOCK_MONOTONIC, the clock NIO schedules with): every time stamp of
/// the benchmark comes from here.
@inline(__always)
func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Latencies in nanoseconds, 1 ns to 60 s, 3 significant digits (HdrHistogram).
typealias Latencies = Histogram<UInt64>

func newLatencies() -> Latencies {
    Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
}

/// User + system CPU seconds of this process so far (every node runs in it).
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
        + Double(u.ru_stime.tv_usec) / 1e6
}

/// One line of the table.
struct Row: Codable, Sendable {
    var name: String
    /// What was measured, in a few words (batching, window, rate, durability).
    var detail: String
    var messages: Int
    var seconds: Double
    var messagesPerSecond: Double
    var p50Micros: Double
    var p99Micros: Double
    var p999Micros: Double
    var maxMicros: Double
    /// CPU seconds of the whole process per wall second during the run (2 cores: at most 2).
    var cpuCores: Double
    /// Bytes written to storage per message (both nodes' stores; 0 for raw TCP).
    var diskBytesPerMessage: Double
    /// Chat rows: store commits on the receiver and on the sender(s) during the run.
    var receiverCommits: Int?
    var senderCommits: Int?
    /// Chat rows: `send` calls that threw, messages not acknowledged by the end of the drain.
    var errors: Int?
    var lost: Int?

    init(name: String, detail: String, messages: Int, seconds: Double, latencies: Latencies, usage: Usage) {
        self.name = name
        self.detail = detail
        self.messages = messages
        self.seconds = seconds
        messagesPerSecond = seconds > 0 ? Double(messages) / seconds : 0
        func us(_ p: Double) -> Double { latencies.totalCount == 0 ? 0 : Double(latencies.valueAtPercentile(p)) / 1000 }
        p50Micros = us(50)
        p99Micros = us(99)
        p999Micros = us(99.9)
        maxMicros = latencies.totalCount == 0 ? 0 : Double(latencies.max) / 1000
        cpuCores = seconds > 0 ? usage.cpu / seconds : 0
        diskBytesPerMessage = messages > 0 ? Double(usage.disk) / Double(messages) : 0
    }
}

/// Bytes this process caused to be written to storage so far (`write_bytes` of /proc/self/io:
/// the stores' WAL and database files; sockets do not count).
func diskWriteBytes() -> UInt64 {
    guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("write_bytes:") {
        return UInt64(line.dropFirst("write_bytes:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return 0
}

/// What a run cost the process: CPU seconds, bytes written to storage.
struct Usage {
    var cpu: Double
    var disk: UInt64
}

/// Runs `body` and measures the process's CPU time and storage writes over it.
func measured<T>(_ body: () async throws -> T) async rethrows -> (T, Usage) {
    let c0 = cpuSeconds()
    let d0 = diskWriteBytes()
    let r = try await body()
    return (r, Usage(cpu: cpuSeconds() - c0, disk: diskWriteBytes() - d0))
}

func formatLatency(_ micros: Double) -> String {
    if micros >= 10_000 { return format1(micros / 1000, digits: 0) + " ms" }
    if micros >= 1_000 { return format1(micros / 1000, digits: 2) + " ms" }
    return format1(micros, digits: 0) + " µs"
}

/// `1234567.8` → `1,234,568` (digits 0), or with `digits` decimals.
func format1(_ v: Double, digits: Int) -> String {
    if digits == 0 {
        let n = Int(v.rounded())
        let s = String(abs(n))
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let scaled = Int((v * p).rounded())
    let whole = scaled / Int(p)
    var frac = String(abs(scaled % Int(p)))
    while frac.count < digits { frac = "0" + frac }
    return format1(Double(whole), digits: 0) + "." + frac
}

func markdownTable(_ rows: [Row]) -> String {
    var lines = [
        "| run | what | messages | msgs/s | p50 | p99 | p99.9 | max | CPU (cores) | disk B/msg |",
        "|-----|------|---------:|-------:|----:|----:|------:|----:|------------:|-----------:|",
    ]
    for r in rows {
        var what = r.detail
        if let e = r.errors, e > 0 { what += "; \(e) send errors" }
        if let l = r.lost, l > 0 { what += "; \(l) NOT ACKED" }
        lines.append("| \(r.name) | \(what) | \(format1(Double(r.messages), digits: 0)) | \(format1(r.messagesPerSecond, digits: 0)) | "
                     + "\(formatLatency(r.p50Micros)) | \(formatLatency(r.p99Micros)) | \(formatLatency(r.p999Micros)) | "
                     + "\(formatLatency(r.maxMicros)) | \(format1(r.cpuCores, digits: 2)) | "
                     + "\(format1(r.diskBytesPerMessage, digits: 0)) |")
    }
    return lines.joined(separator: "\n")
}
