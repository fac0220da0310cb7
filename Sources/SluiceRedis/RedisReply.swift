import CHiredis

/// A Redis reply, copied out of hiredis's reply tree so it outlives it.
public enum RedisReply: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case status(String)
    /// An error reply (`ERR …`, `NOSCRIPT …`): the command ran and Redis refused it.
    case error(String)

    init(_ reply: UnsafePointer<redisReply>) {
        let value = reply.pointee
        func text() -> String {
            guard let bytes = value.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: bytes, count: Int(value.len)), as: UTF8.self)
        }
        switch value.type {
        case REDIS_REPLY_STRING: self = .string(text())
        case REDIS_REPLY_INTEGER: self = .integer(value.integer)
        case REDIS_REPLY_STATUS: self = .status(text())
        case REDIS_REPLY_ERROR: self = .error(text())
        case REDIS_REPLY_ARRAY:
            self = .array((0..<Int(value.elements)).compactMap { index in value.element[index].map { RedisReply(UnsafePointer($0)) } })
        default: self = .null
        }
    }

    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .string(let text): return Int64(text)
        default: return nil
        }
    }

    /// The integers of an array reply, as the scripts return them; throws for any other shape.
    func integers() throws -> [Int64] {
        guard case .array(let items) = self else { throw RedisError.command("unexpected script reply \(self)") }
        return try items.map { item in
            guard let value = item.int else { throw RedisError.command("unexpected script reply \(self)") }
            return value
        }
    }

    public var string: String? {
        switch self {
        case .string(let text), .status(let text): return text
        case .integer(let value): return String(value)
        default: return nil
        }
    }
}

public enum RedisError: Error, Equatable, CustomStringConvertible {
    /// No connection could be made, or the one in use broke (refused, reset, timed out).
    case unavailable(String)
    /// Redis answered with an error reply.
    case command(String)
    /// The client is shut down.
    case closed

    public var description: String {
        switch self {
        case .unavailable(let reason): return "redis unavailable: \(reason)"
        case .command(let message): return "redis error: \(message)"
        case .closed: return "redis client closed"
        }
    }
}
