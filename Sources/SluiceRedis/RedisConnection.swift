import CHiredis
import Foundation

/// One blocking hiredis connection. Every call blocks its thread until Redis answers or the
/// timeout passes, so `RedisClient` only ever calls it from its thread pool.
///
/// `@unchecked Sendable`: the context is used by one thread at a time. A connection is either
/// idle in the client's pool (behind its lock) or leased to exactly one pool thread.
final class RedisConnection: @unchecked Sendable {
    private let context: UnsafeMutablePointer<redisContext>
    /// Set once a call fails at the connection level; a broken connection is dropped, never reused.
    private(set) var isBroken = false

    init(endpoint: RedisEndpoint, timeout: Duration) throws {
        let limit = Self.timeval(timeout)
        guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), limit) else {
            throw RedisError.unavailable("out of memory")
        }
        guard context.pointee.err == 0 else {
            let reason = Self.errorText(context)
            redisFree(context)
            throw RedisError.unavailable(reason)
        }
        self.context = context
        redisSetTimeout(context, limit)
        do {
            if let password = endpoint.password { try expectOK(try command(["AUTH", password]), "AUTH") }
            if endpoint.database != 0 { try expectOK(try command(["SELECT", String(endpoint.database)]), "SELECT") }
        } catch {
            redisFree(context)
            throw error
        }
    }

    deinit { redisFree(context) }

    /// Sends one command and waits for its reply. An error reply is returned, not thrown: for
    /// EVALSHA the caller wants to see NOSCRIPT.
    func command(_ arguments: [String]) throws -> RedisReply {
        // hiredis takes C arrays of pointers and lengths; the bytes are copied once, binary-safe.
        let lengths = arguments.map { $0.utf8.count }
        let copies: [UnsafeMutablePointer<CChar>] = arguments.map { argument in
            let utf8 = Array(argument.utf8)
            let bytes = UnsafeMutablePointer<CChar>.allocate(capacity: max(utf8.count, 1))
            utf8.withUnsafeBytes { source in
                if let base = source.baseAddress { UnsafeMutableRawPointer(bytes).copyMemory(from: base, byteCount: source.count) }
            }
            return bytes
        }
        defer { copies.forEach { $0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        let raw = pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { redisCommandArgv(context, Int32(arguments.count), argv.baseAddress, $0.baseAddress) }
        }
        guard let raw else {
            isBroken = true
            throw RedisError.unavailable(Self.errorText(context))
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return RedisReply(UnsafePointer(reply))
    }

    private func expectOK(_ reply: RedisReply, _ what: String) throws {
        if case .error(let message) = reply { throw RedisError.command("\(what): \(message)") }
    }

    private static func timeval(_ duration: Duration) -> Foundation.timeval {
        let (seconds, attoseconds) = duration.components
        return Foundation.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }.ifEmpty("connection error \(context.pointee.err)")
    }
}

extension String {
    fileprivate func ifEmpty(_ fallback: String) -> String { isEmpty ? fallback : self }
}
