import ListenerLimits
import NIOCore

/// Stream framing for gossip over TCP: a 4-byte big-endian length, then that many bytes.
/// A frame longer than `maxFrame` is a protocol error: the connection is closed. A frame's
/// declared length is reserved from `budget` (shared by every gossip connection) as soon as its
/// header arrives, and given back when it is complete or the connection ends: a frame the budget
/// cannot hold closes the connection, so half-sent frames cost at most the budget in all.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    let maxFrame: Int
    var budget: ByteBudget?
    /// What the frame being received holds of `budget`.
    private var reserved = 0

    init(maxFrame: Int, budget: ByteBudget? = nil) {
        self.maxFrame = maxFrame
        self.budget = budget
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= maxFrame else { throw FrameTooLarge(length: Int(length)) }
        guard buffer.readableBytes >= 4 + Int(length) else {
            if reserved == 0, let budget, length > 0 {
                guard budget.reserve(Int(length)) else { throw FrameBudgetExhausted(length: Int(length)) }
                reserved = Int(length)
            }
            return .needMoreData
        }
        giveBack()
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readBytes(length: Int(length))!))
        return .continue
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) { giveBack() }

    private mutating func giveBack() {
        if reserved > 0 { budget?.release(reserved) }
        reserved = 0
    }
}

struct FrameTooLarge: Error {
    let length: Int
}

/// The gossip connections' frame budget cannot hold this frame now.
struct FrameBudgetExhausted: Error {
    let length: Int
}

extension ByteBuffer {
    mutating func writeFrame(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }
}
