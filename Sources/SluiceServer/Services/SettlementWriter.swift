import Logging
import ServiceLifecycle
import SluiceCore
import SluiceStore
import Synchronization

/// Writes settled requests to the store off the request path, many per transaction.
///
/// Requests enqueue and return at once. The writer wakes, lets up to `gatherWindow` pass while
/// fewer than `batchSize` records wait (group commit: at a trickle of traffic each request would
/// otherwise cost a transaction of its own), takes up to `batchSize` records, and writes them in
/// one transaction; a failed write is retried, never dropped. The queue is bounded:
/// when it is full the gateway refuses new requests (`isBackedUp`) rather than serve them unbilled.
/// On graceful shutdown the writer drains the queue before it returns.
public final class SettlementWriter: Service {
    struct State {
        var queue: [UsageRecord] = []
        var inFlight = 0
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        /// Set by `flush()` and shutdown: write what is queued without waiting for more.
        var hurry = false
    }

    private let state = Mutex(State())
    private let store: any LedgerStore
    private let credits: any CreditHolds
    private let keyBudgets: (any CreditHolds)?
    private let capacity: Int
    private let batchSize: Int
    private let gatherWindow: Duration
    private let logger: Logger
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation

    public init(
        store: any LedgerStore, credits: any CreditHolds, keyBudgets: (any CreditHolds)? = nil, capacity: Int, batchSize: Int,
        gatherWindow: Duration = .zero, logger: Logger
    ) {
        self.store = store
        self.credits = credits
        self.keyBudgets = keyBudgets
        self.capacity = capacity
        self.batchSize = batchSize
        self.gatherWindow = gatherWindow
        self.logger = logger
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether the queue is full; new requests are refused until it drains.
    public var isBackedUp: Bool { state.withLock { $0.queue.count >= capacity } }

    /// Queues a settled request. Never blocks and never refuses: the money is already decided.
    public func enqueue(_ record: UsageRecord) {
        state.withLock { $0.queue.append(record) }
        ring.yield()
    }

    /// Returns once everything queued so far is written. For tests and shutdown.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if state.queue.isEmpty && state.inFlight == 0 { return true }
                state.hurry = true
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in doorbell {
                await gather()
                await drain()
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.hurry = true }
            self.ring.finish()
        }
        await drain()
        logger.info("settlement writer stopped with an empty queue")
    }

    /// Waits up to `gatherWindow` for a full batch, unless someone is waiting on a flush. It looks
    /// every millisecond: a few wake-ups per batch cost far less than a transaction per request.
    private func gather() async {
        let deadline = ContinuousClock.now + gatherWindow
        while ContinuousClock.now < deadline, !state.withLock({ $0.hurry || $0.queue.count >= batchSize }) {
            // A cancelled sleep throws at once; then the writer writes without waiting.
            do { try await Task.sleep(for: .milliseconds(1)) } catch { return }
        }
    }

    private func drain() async {
        while true {
            let batch: [UsageRecord] = state.withLock { state in
                let batch = Array(state.queue.prefix(batchSize))
                state.queue.removeFirst(batch.count)
                state.inFlight = batch.count
                return batch
            }
            if batch.isEmpty {
                let waiters = state.withLock { state in
                    guard state.inFlight == 0 && state.queue.isEmpty else { return [CheckedContinuation<Void, Never>]() }
                    defer { state.idleWaiters.removeAll() }
                    state.hurry = false
                    return state.idleWaiters
                }
                waiters.forEach { $0.resume() }
                return
            }
            await write(batch)
            state.withLock { $0.inFlight = 0 }
        }
    }

    private func write(_ batch: [UsageRecord]) async {
        var delay = Duration.milliseconds(50)
        while true {
            do {
                for charge in try await store.recordSettlements(batch) {
                    credits.persisted(userID: charge.userID, charged: charge.charged, balanceAfter: charge.balanceAfter)
                    if let remaining = charge.keySpendRemaining {
                        keyBudgets?.persisted(userID: charge.apiKeyID, charged: charge.charged, balanceAfter: remaining)
                    }
                }
                return
            } catch {
                // Retry until it lands: dropping a batch would lose money. The queue bound stops new
                // requests meanwhile, and replays are safe because request ids are unique.
                // Only cancellation stops it: a cancelled task is being torn down like a crash, and
                // retrying in one would spin, since every store call now fails at once.
                guard !Task.isCancelled else {
                    logger.critical("settlement writer cancelled with unwritten charges", metadata: ["records": "\(batch.count)"])
                    return
                }
                logger.error("settlement write failed; retrying", metadata: ["records": "\(batch.count)", "error": "\(error)"])
                do { try await Task.sleep(for: delay) } catch { continue }
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
