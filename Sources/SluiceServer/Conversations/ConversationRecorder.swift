import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceStore
import Synchronization

/// Records `/v1/chat/completions` exchanges in the chat session a request names, for keys flagged
/// `record_conversations`: the request's last user message and the answer, each written once
/// (the request id is part of the message's identity in the store).
///
/// Recording is off the request path: the handler hands over what it already has (the request
/// body, the answer, the charge) and returns; this service reads the texts out of them and writes
/// to the store. The queue is bounded: when it is full a recording is dropped with a warning
/// rather than hold memory without limit or slow a request. A failed write is retried a few
/// times, then dropped with an error: a transcript is a convenience, never money. On graceful
/// shutdown it writes what is queued before it returns.
public final class ConversationRecorder: Service {
    /// One finished exchange to record.
    struct Exchange: Sendable {
        var sessionID: Int64
        var userID: Int64
        var requestID: String
        /// The model the client asked for, and the one that answered.
        var model: String
        var servedModel: String?
        /// The request body as the client sent it.
        var request: Data
        var answer: Answer
        var usage: TokenUsage
        var cost: Credits
        var at: Date
    }

    enum Answer: Sendable {
        /// A whole chat completion body.
        case completion(ByteBuffer)
        /// The text a stream carried, gathered by `TranscriptWriter`.
        case streamed(String)
    }

    struct State {
        var queue: [Exchange] = []
        var writing = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        var isIdle: Bool { queue.isEmpty && !writing }
    }

    /// Exchanges waiting to be written, at most; more are dropped.
    static let defaultCapacity = 10_000
    /// Write attempts per exchange, and the pause before the first retry (doubled after each).
    static let attempts = 3

    private let store: any ChatSessionStore
    private let capacity: Int
    private let retryPause: Duration
    private let logger: Logger
    private let state = Mutex(State())
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation

    init(store: any ChatSessionStore, capacity: Int = ConversationRecorder.defaultCapacity, retryPause: Duration = .milliseconds(500), logger: Logger) {
        self.store = store
        self.capacity = capacity
        self.retryPause = retryPause
        self.logger = logger
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues an exchange. Never blocks; drops it when the queue is full.
    func record(_ exchange: Exchange) {
        let queued = state.withLock { state in
            guard state.queue.count < capacity else { return false }
            state.queue.append(exchange)
            return true
        }
        guard queued else {
            logger.warning(
                "conversation not recorded: the recording queue is full",
                metadata: ["request_id": "\(exchange.requestID)", "chat_session_id": "\(exchange.sessionID)"])
            return
        }
        ring.yield()
    }

    /// Returns once everything queued so far is written (or given up). For tests.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if state.isIdle { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in doorbell { await writeQueued() }
        } onGracefulShutdown: { [ring] in
            ring.finish()
        }
        // What the server's last requests queued after the doorbell stopped.
        await writeQueued()
    }

    private func writeQueued() async {
        while let batch = take() {
            for exchange in batch { await write(exchange) }
        }
    }

    /// The queue's contents, marking the writer busy; nil (and waiters woken) when it is empty.
    private func take() -> [Exchange]? {
        let (batch, waiters) = state.withLock { state -> ([Exchange]?, [CheckedContinuation<Void, Never>]) in
            guard state.queue.isEmpty else {
                state.writing = true
                defer { state.queue.removeAll(keepingCapacity: true) }
                return (state.queue, [])
            }
            state.writing = false
            defer { state.idleWaiters.removeAll() }
            return (nil, state.idleWaiters)
        }
        for waiter in waiters { waiter.resume() }
        return batch
    }

    private func write(_ exchange: Exchange) async {
        let messages = Transcript.messages(of: exchange)
        guard !messages.isEmpty else { return }
        var pause = retryPause
        for attempt in 1...Self.attempts {
            do {
                let appended = try await store.appendChatMessages(
                    sessionID: exchange.sessionID, userID: exchange.userID, messages, at: exchange.at)
                if appended == nil {
                    logger.info(
                        "conversation not recorded: the key's user has no such chat session",
                        metadata: ["request_id": "\(exchange.requestID)", "chat_session_id": "\(exchange.sessionID)"])
                }
                return
            } catch {
                guard attempt < Self.attempts else {
                    logger.error(
                        "conversation not recorded: the store refused it",
                        metadata: ["request_id": "\(exchange.requestID)", "chat_session_id": "\(exchange.sessionID)", "error": "\(error)"])
                    return
                }
                try? await Task.sleep(for: pause)
                pause *= 2
            }
        }
    }
}
