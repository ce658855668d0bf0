#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// libFuzzer target `control-json`: one line a client writes to the control socket, decoded as
/// `ControlServer.handle` decodes it (`JSONDecoder().decode(ControlRequest.self, from:)`). Checks:
/// a refusal is a thrown `DecodingError`, never a trap; an accepted request re-encodes (with
/// sorted keys, as `ControlJSON.encode` writes) to JSON that decodes to the same request and
/// re-encodes identically. Coverage: Foundation's JSON parser is not instrumented (it is the
/// toolchain's library), only the request's synthesized `Decodable` code, so libFuzzer's figures
/// here mostly count the keys and types it reached; a dictionary of JSON tokens and the
/// request's keys (Tools/fuzz/dict/json.dict) stands in for the missing feedback.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let req: ControlRequest
    do {
        req = try JSONDecoder().decode(ControlRequest.self, from: Data(input))
    } catch is DecodingError {
        return 0
    } catch {
        finding("refused with \(type(of: error)), not a DecodingError: \(error)", input)
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    do {
        let json = try encoder.encode(req)
        let again = try JSONDecoder().decode(ControlRequest.self, from: json)
        expect(try encoder.encode(again) == json, "the request changed on a round trip", input)
        expect(again.op == req.op && again.texts == req.texts && again.limit == req.limit && again.text == req.text,
               "fields changed on a round trip", input)
    } catch {
        finding("a decoded request does not round-trip: \(error)", input)
    }
    return 0
}
