import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import Synchronization

/// Cluster events over a Redis stream. Every instance appends what it learns and reads what the
/// others appended, both every `pollInterval` (100 ms by default, well inside the promised second).
/// Polling keeps each exchange to two short round trips on the shared pool, where a blocking read
/// would hold a connection and its thread for good.
///
/// Outgoing events wait in a bounded outbox; events that replace each other (an account's headroom,
/// a conversation's binding) keep only the newest. The stream is trimmed to about 10,000 entries.
public final class RedisClusterEvents: ClusterEvents, Service {
    public typealias Handler = @Sendable (ClusterEvent) async -> Void

    struct Outbox {
        var events: [ClusterEvent] = []
        var positions: [String: Int] = [:]
        var dropped = 0
    }

    private let redis: RedisClient
    private let stream: String
    private let origin = UUID().uuidString
    private let pollInterval: Duration
    private let capacity: Int
    private let logger: Logger
    private let outbox = Mutex(Outbox())
    private let handler = Mutex<Handler?>(nil)

    public init(redis: RedisClient, stream: String = "sluice:events", pollInterval: Duration = .milliseconds(100), capacity: Int = 10_000, logger: Logger) {
        self.redis = redis
        self.stream = stream
        self.pollInterval = pollInterval
        self.capacity = capacity
        self.logger = logger
    }

    /// Where the other instances' events go. Set before `run`.
    public func onEvent(_ handler: @escaping Handler) {
        self.handler.withLock { $0 = handler }
    }

    public func publish(_ event: ClusterEvent) {
        outbox.withLock { outbox in
            if let key = event.coalescingKey, let index = outbox.positions[key] {
                outbox.events[index] = event
            } else if outbox.events.count >= capacity {
                outbox.dropped += 1
            } else {
                if let key = event.coalescingKey { outbox.positions[key] = outbox.events.count }
                outbox.events.append(event)
            }
        }
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var cursor: String?
            while true {
                try await Task.sleep(for: self.pollInterval)
                await self.send()
                cursor = await self.receive(after: cursor)
            }
        }
        await send()
    }

    /// Appends the outbox to the stream in one round trip; on failure the events are dropped.
    func send() async {
        let (events, dropped) = outbox.withLock { outbox in
            defer { outbox = Outbox() }
            return (outbox.events, outbox.dropped)
        }
        if dropped > 0 { logger.warning("cluster events dropped: the outbox was full", metadata: ["events": "\(dropped)"]) }
        guard !events.isEmpty else { return }
        do {
            try await redis.evaluate(Self.appendScript, keys: [stream], arguments: [origin] + events.map(\.wire))
        } catch {
            logger.warning("cluster events could not be sent", metadata: ["events": "\(events.count)", "error": "\(error)"])
        }
    }

    /// Hands the other instances' new events to the handler; returns the new cursor. Without a
    /// cursor it starts from the stream's newest entry: what happened before this instance listened
    /// is in the store, or has expired.
    func receive(after cursor: String?) async -> String? {
        do {
            guard let cursor else {
                guard case .array(let newest) = try await redis.command("XREVRANGE", stream, "+", "-", "COUNT", "1") else { return nil }
                return newest.first.flatMap(Self.entry)?.id ?? "0-0"
            }
            let reply = try await redis.command("XREAD", "COUNT", "1000", "STREAMS", stream, cursor)
            guard case .array(let streams) = reply, case .array(let parts)? = streams.first, parts.count == 2, case .array(let entries) = parts[1]
            else { return cursor }
            let handler = self.handler.withLock { $0 }
            var last = cursor
            for case let (id, fields)? in entries.map(Self.entry) {
                last = id
                guard fields["o"] != origin, let wire = fields["e"], let event = ClusterEvent(wire: wire) else { continue }
                await handler?(event)
            }
            return last
        } catch {
            logger.warning("cluster events could not be read", metadata: ["error": "\(error)"])
            return cursor
        }
    }

    /// A stream entry's id and fields.
    static func entry(_ reply: RedisReply) -> (id: String, fields: [String: String])? {
        guard case .array(let parts) = reply, parts.count == 2, let id = parts[0].string, case .array(let flat) = parts[1] else { return nil }
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[index].string, let value = flat[index + 1].string { fields[name] = value }
        }
        return (id, fields)
    }

    static let appendScript = RedisScript("""
        for i = 2, #ARGV do redis.call('XADD', KEYS[1], 'MAXLEN', '~', 10000, '*', 'o', ARGV[1], 'e', ARGV[i]) end
        return #ARGV - 1
        """)
}
