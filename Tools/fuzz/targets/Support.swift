// Shared by every libFuzzer target (Tools/fuzz/libfuzzer compiles it into each).
#if canImport(Glibc)
import Glibc
#endif

/// The fuzzer's input as an array (what the decoders take).
func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// A broken property: says which and aborts, so that libFuzzer saves the input as a crash
/// (`crash-<sha1>` in the working directory, or under `-artifact_prefix`).
func finding(_ what: String, _ input: [UInt8]) -> Never {
    let hex = input.prefix(256).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    let text = "FINDING: \(what)\ninput (\(input.count) bytes, first 256 in hex): \(hex)\n"
    _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    abort()
}

func expect(_ ok: Bool, _ what: @autoclosure () -> String, _ input: [UInt8]) {
    if !ok { finding(what(), input) }
}

/// A deterministic 64-bit hash of the input (FNV-1a): seeds the choices a harness makes (chunk
/// sizes), so that the same input always runs the same way and a crash reproduces.
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
