import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SluiceCore
import SluiceStore
import Synchronization

/// Writes settled requests to the store off the request path, many per transaction.
///
/// Requests enqueue and return at once. The writer wakes, lets up to `gatherWindow` pass while
/// fewer than `batchSize` records wait (group commit: at a trickle of traffic each request would
/// otherwise cost a transaction of its own), takes up to `batchSize` records, and writes them in
/// one transaction; a failed write is retried, never dropped. The window is one timer on an event
/// loop, ended early by the enqueue that fills the batch: looking every millisecond instead woke
/// the gateway's core two or three times per request at one connection. The queue is bounded:
/// when it is full the gateway refuses new requests (`isBackedUp`) rather than serve them unbilled.
/// On graceful shutdown the writer drains the queue before it returns.
///
/// It also settles the requests that could not settle themselves: those whose holds were out of
/// reach when they ended (Redis was down), and those dropped before they could settle. These wait
/// in `unsettled`, count towards the same bound, and are retried before each write. With each
/// batch it sends the shared-pool allowance spends made since the last (`flushSpends`).
public final class SettlementWriter: Service {
    struct State {
        var queue: [UsageRecord] = []
        var unsettled: [PendingSettlement] = []
        var inFlight = 0
        /// Unsettled requests being settled right now.
        var settling = 0
        var isIdle: Bool { queue.isEmpty && unsettled.isEmpty && inFlight == 0 && settling == 0 }
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        /// Set by `flush()` and shutdown: write what is queued without waiting for more.
        var hurry = false
        /// The writer waiting out its gather window, and which window it is (a late timer of an
        /// earlier window must not end this one).
        var gatherer: (window: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var windows: UInt64 = 0

        /// Ends the gather window, if the writer is in one.
        mutating func endGathering() -> CheckedContinuation<Void, Never>? { gatherer.take()?.continuation }
    }

    private let state = Mutex(State())
    private let store: any LedgerStore
    private let credits: any CreditHolds
    private let spendingLimits: SpendingLimits?
    /// Shared-pool allowances, whose spends go to a shared store with each batch.
    private let allowances: (any PoolAllowances)?
    /// Settles holds: the writer's retries and the requests that settle inline share it.
    let settler: HoldSettler
    private let capacity: Int
    private let batchSize: Int
    private let gatherWindow: Duration
    /// Where the gather window's timer runs.
    private let timers: any EventLoop
    private let logger: Logger
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation

    public init(
        store: any LedgerStore, credits: any CreditHolds, spendingLimits: SpendingLimits? = nil,
        rateLimiter: (any KeyRateLimiting)? = nil, allowances: (any PoolAllowances)? = nil, capacity: Int, batchSize: Int, gatherWindow: Duration = .zero,
        clock: any WallClock = SystemClock(), logger: Logger
    ) {
        self.store = store
        self.credits = credits
        self.spendingLimits = spendingLimits
        self.allowances = allowances
        self.settler = HoldSettler(credits: credits, spendingLimits: spendingLimits, rateLimiter: rateLimiter, allowances: allowances, clock: clock)
        self.capacity = capacity
        self.batchSize = batchSize
        self.gatherWindow = gatherWindow
        self.timers = MultiThreadedEventLoopGroup.singleton.any()
        self.logger = logger
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether the queue is full; new requests are refused until it drains. The batch being written
    /// counts too: while the store is down its write is retried, and its charges are as unwritten
    /// as the queued ones.
    public var isBackedUp: Bool { backlog >= capacity }

    /// Requests whose charges are decided but not yet in the store.
    public var backlog: Int { state.withLock { $0.queue.count + $0.inFlight + $0.unsettled.count + $0.settling } }

    /// Queues a settled request. Never blocks and never refuses: the money is already decided.
    public func enqueue(_ record: UsageRecord) {
        let batchIsFull = state.withLock { state in
            state.queue.append(record)
            return state.queue.count >= batchSize ? state.endGathering() : nil
        }
        batchIsFull?.resume()
        ring.yield()
    }

    /// Settles a request's holds now and queues its record; when the holds cannot be reached, the
    /// writer retries until they can.
    func settle(_ pending: PendingSettlement) async {
        var pending = pending
        do {
            if let record = try await settler.settle(&pending) { enqueue(record) }
        } catch {
            settleLater(pending)
        }
    }

    /// Queues a request whose holds are still to settle. Never blocks and never refuses.
    func settleLater(_ pending: PendingSettlement) {
        state.withLock { $0.unsettled.append(pending) }
        ring.yield()
    }

    /// Returns once everything queued so far is written. For tests and shutdown.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (idle, gatherer) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                if state.isIdle { return (true, nil) }
                state.hurry = true
                state.idleWaiters.append(continuation)
                return (false, state.endGathering())
            }
            gatherer?.resume()
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
            let gatherer = self.state.withLock { state in
                state.hurry = true
                return state.endGathering()
            }
            gatherer?.resume()
            self.ring.finish()
        }
        await drain()
        logger.info("settlement writer stopped with an empty queue")
    }

    /// Waits up to `gatherWindow` for a full batch, unless someone is waiting on a flush.
    private func gather() async {
        guard gatherWindow > .zero else { return }
        let (seconds, attoseconds) = gatherWindow.components
        let window = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let id: UInt64? = state.withLock { state in
                    guard !state.hurry, state.queue.count < batchSize else { return nil }
                    state.windows += 1
                    state.gatherer = (state.windows, continuation)
                    return state.windows
                }
                guard let id else { return continuation.resume() }
                timers.scheduleTask(in: window) { [self] in
                    let ended = state.withLock { state in state.gatherer?.window == id ? state.endGathering() : nil }
                    ended?.resume()
                }
            }
        } onCancel: {
            // A cancelled writer writes without waiting.
            state.withLock { $0.endGathering() }?.resume()
        }
    }

    private func drain() async {
        var settleRetryDelay = Duration.milliseconds(50)
        while true {
            let stuck = await settleWaiting()
            if !stuck { settleRetryDelay = .milliseconds(50) }
            let batch: [UsageRecord] = state.withLock { state in
                let batch = Array(state.queue.prefix(batchSize))
                state.queue.removeFirst(batch.count)
                state.inFlight = batch.count
                return batch
            }
            if batch.isEmpty && stuck {
                // Only unsettled requests are left, and their holds are out of reach: wait, retry.
                guard !Task.isCancelled else {
                    logger.critical("settlement writer cancelled with unsettled requests", metadata: ["requests": "\(state.withLock { $0.unsettled.count })"])
                    return
                }
                do { try await Task.sleep(for: settleRetryDelay) } catch {}
                settleRetryDelay = min(settleRetryDelay * 2, .seconds(2))
                continue
            }
            if batch.isEmpty {
                let waiters = state.withLock { state in
                    guard state.isIdle else { return [CheckedContinuation<Void, Never>]() }
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

    /// One attempt at every unsettled request; settled ones join the write queue. Returns whether
    /// some could not be settled.
    private func settleWaiting() async -> Bool {
        let waiting: [PendingSettlement] = state.withLock { state in
            defer { state.unsettled.removeAll() }
            state.settling = state.unsettled.count
            return state.unsettled
        }
        guard !waiting.isEmpty else { return false }
        var failed: [PendingSettlement] = []
        var lastError: (any Error)?
        for var pending in waiting {
            do {
                if let record = try await settler.settle(&pending) { state.withLock { $0.queue.append(record) } }
            } catch {
                failed.append(pending)
                lastError = error
            }
        }
        state.withLock { state in
            state.unsettled.insert(contentsOf: failed, at: 0)
            state.settling = 0
        }
        if let lastError {
            logger.error("settling held requests failed; retrying", metadata: ["requests": "\(failed.count)", "error": "\(lastError)"])
        }
        return !failed.isEmpty
    }

    private func write(_ batch: [UsageRecord]) async {
        // The batch's shared-pool spends first: they do not wait on the store.
        await allowances?.flushSpends()
        var delay = Duration.milliseconds(50)
        while true {
            do {
                let changes = try await store.recordSettlements(batch).perBalance()
                for user in changes.users {
                    await credits.persisted(userID: user.id, charged: user.charged, balanceAfter: user.balanceAfter)
                }
                for key in changes.keys {
                    await spendingLimits?.persisted(.key(key.id), charged: key.charged, remaining: key.balanceAfter)
                }
                for member in changes.members {
                    await spendingLimits?.persisted(.member(membershipID: member.id), charged: member.charged, remaining: member.balanceAfter)
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
