import CHiredis
import NIOCore

/// The connection had already failed when a command came to it, so the command was not sent:
/// the client sends it again on another connection.
struct RedisConnectionGone: Error {}

/// Who waits for one command's reply: an async caller (the hot path, resumed straight from the
/// event loop) or a future (the connect sequence's AUTH and SELECT).
enum RedisReplyWaiter {
    case continuation(CheckedContinuation<RedisReply, any Error>)
    case promise(EventLoopPromise<RedisReply>)

    func resume(with result: Result<RedisReply, any Error>) {
        switch self {
        case .continuation(let continuation): continuation.resume(with: result)
        case .promise(let promise): promise.completeWith(result)
        }
    }
}

/// The last handler of a Redis connection's pipeline. Commands are pipelined: each is written as
/// soon as it is sent, and since Redis answers a connection's commands in the order they came,
/// the next reply always belongs to the oldest command still waiting.
///
/// Replies are parsed by hiredis's reader, which is fed the bytes as they arrive. Commands are
/// encoded here: a RESP request is an array of bulk strings.
///
/// Every command must be answered within `timeout`. One timer watches the oldest command (the
/// one due first); when a reply is late, every command on the connection fails as unavailable
/// and the connection closes, since a later reply could no longer be matched to its command.
final class RedisPipelineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        let waiter: RedisReplyWaiter
        let deadline: NIODeadline
    }

    private let timeout: TimeAmount
    private let reader: UnsafeMutablePointer<redisReader>
    private var context: ChannelHandlerContext?
    private var waiting = CircularBuffer<Waiting>()
    private var timer: Scheduled<Void>?
    private var flushQueued = false
    /// Set when the connection fails or closes; every later command fails with it at once.
    private var failure: RedisError?

    init(timeout: TimeAmount) {
        self.timeout = timeout
        reader = redisReaderCreate()
    }

    deinit { redisReaderFree(reader) }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Writes one command; `waiter` gets its reply. Called on the event loop.
    func send(_ arguments: [String], to waiter: RedisReplyWaiter) {
        guard let context, failure == nil else { return waiter.resume(with: .failure(RedisConnectionGone())) }
        var request = context.channel.allocator.buffer(capacity: Self.encodedSize(arguments))
        Self.encode(arguments, into: &request)
        let deadline = NIODeadline.now() + timeout
        waiting.append(Waiting(waiter: waiter, deadline: deadline))
        if timer == nil { armTimer(at: deadline) }
        context.write(wrapOutboundOut(request), promise: nil)
        // Commands sent in the same turn of the event loop go out in one write: the flush waits
        // for the commands already queued on the loop. Profiled at 32 connections with a flush
        // per command, the client took 15 % of the gateway's core, most of it in `write`.
        guard !flushQueued else { return }
        flushQueued = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushQueued = false
            self.context?.flush()
        }
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let fed = bytes.withUnsafeReadableBytes { raw in
            redisReaderFeed(reader, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard fed == REDIS_OK else { return fail(.unavailable("redis reader: \(readerError())")) }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                return fail(.unavailable("malformed reply: \(readerError())"))
            }
            guard let raw else { return }
            let reply = RedisReply(UnsafePointer(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
            guard let answered = waiting.popFirst() else { return fail(.unavailable("a reply nobody asked for")) }
            if waiting.isEmpty { stopTimer() }
            answered.waiter.resume(with: .success(reply))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(.unavailable(String(describing: type(of: error))))
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.unavailable("connection closed"))
        context.fireChannelInactive()
    }

    // MARK: Failure and the reply clock

    /// Closes the connection, then fails every waiting command; later commands fail at once.
    /// Closing comes first so that a caller resumed by the failure already sees the connection
    /// inactive, and its next command goes to a new one.
    private func fail(_ error: RedisError) {
        if failure == nil { failure = error }
        stopTimer()
        let failed = waiting
        waiting.removeAll()
        context?.close(promise: nil)
        for command in failed { command.waiter.resume(with: .failure(error)) }
    }

    private func armTimer(at deadline: NIODeadline) {
        timer = context?.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in timerFired() }
    }

    /// The timer is not moved at every reply: when it fires it looks at the oldest command still
    /// waiting, and sleeps again until that one is due.
    private func timerFired() {
        timer = nil
        guard let oldest = waiting.first else { return }
        if NIODeadline.now() >= oldest.deadline { return fail(.unavailable("no reply within \(timeout)")) }
        armTimer(at: oldest.deadline)
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
    }

    private func readerError() -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    // MARK: RESP encoding

    static func encodedSize(_ arguments: [String]) -> Int {
        arguments.reduce(16) { $0 + $1.utf8.count + 16 }
    }

    /// `*<count>\r\n` then `$<length>\r\n<bytes>\r\n` for each argument: binary-safe, no escaping.
    static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            buffer.writeStaticString("$")
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }
}
