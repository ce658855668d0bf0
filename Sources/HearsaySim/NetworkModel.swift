#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import HearsayModel

/// The simulated network: one-way latency drawn per packet from a log-normal distribution with a
/// tail, independent loss, and partitions. Streams (TCP) are reliable: a loss costs a
/// retransmission timeout instead of the message.
public struct NetworkModel: Sendable {
    /// Median one-way latency.
    public var median: Duration
    /// Log-normal shape: p99 is about median · e^(2.33 σ).
    public var sigma: Double
    /// Probability that a packet is hit by a spike (scheduling stall, Wi-Fi retry) of
    /// `spikeMin...spikeMax` extra delay: the tail.
    public var spikeProbability: Double
    public var spikeMin: Duration
    public var spikeMax: Duration
    /// Independent loss probability of each datagram (and of each stream segment, which then
    /// waits `retransmissionTimeout`).
    public var loss: Double
    public var retransmissionTimeout: Duration

    /// A switched LAN: median 0.3 ms, p99 about 1 ms, 0.5 % of packets 1–20 ms late.
    public static func lan(loss: Double = 0) -> NetworkModel {
        NetworkModel(median: .microseconds(300), sigma: 0.5, spikeProbability: 0.005, spikeMin: .milliseconds(1),
                     spikeMax: .milliseconds(20), loss: loss, retransmissionTimeout: .milliseconds(200))
    }

    /// Sites over the Internet: median 40 ms one way, p99 about 80 ms, 1 % of packets 50–300 ms late.
    public static func wan(loss: Double = 0) -> NetworkModel {
        NetworkModel(median: .milliseconds(40), sigma: 0.3, spikeProbability: 0.01, spikeMin: .milliseconds(50),
                     spikeMax: .milliseconds(300), loss: loss, retransmissionTimeout: .seconds(1))
    }

    /// One packet's one-way delay, in nanoseconds.
    public func latency(using rng: inout SeededRandom) -> Int64 {
        // Box–Muller for a standard normal.
        let u1 = max(rng.unit(), 1e-300)
        let u2 = rng.unit()
        let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        var ns = Double(median.nanoseconds) * exp(sigma * z)
        if rng.unit() < spikeProbability {
            ns += Double(spikeMin.nanoseconds) + rng.unit() * Double((spikeMax - spikeMin).nanoseconds)
        }
        return max(1_000, Int64(ns))
    }

    public func dropped(using rng: inout SeededRandom) -> Bool { loss > 0 && rng.unit() < loss }
}
