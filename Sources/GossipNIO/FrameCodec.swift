import NIOCore

/// Stream framing for gossip over TCP: a 4-byte big-endian length, then that many bytes.
/// A frame longer than `maxFrame` is a protocol error: the connection is closed.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    let maxFrame: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= maxFrame else { throw FrameTooLarge(length: Int(length)) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readBytes(length: Int(length))!))
        return .continue
    }
}

struct FrameTooLarge: Error {
    let length: Int
}

extension ByteBuffer {
    mutating func writeFrame(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }
}
