import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceStore
import Synchronization

/// Keeps running requests settleable when their instance dies.
///
/// Every `interval` it checkpoints each live request in the store (`InFlightStore`): what the
/// charging rule would charge it if it ended now, leased to this instance for `lease`. A request
/// that ends normally deletes its row with its usage row; one whose instance was killed keeps it,
/// and once the lease lapses an instance (another one, or this deployment restarted) claims the
/// row and settles it: the estimate is charged, the hold released, the usage row written with
/// `instance_lost`. Requests that end within one interval never reach the store, so the hot path
/// pays a map insert and removal, nothing more; the price is that a request killed in its first
/// interval goes uncharged (`settlement.checkpoint_millis`).
public final class InFlightJournal: Service {
    /// Names this process's rows; a restarted process is a new instance, whose predecessor's
    /// rows lapse like any other's.
    let instanceID = UUID().uuidString
    private let live = Mutex([String: LiveCharge]())
    private let store: any InFlightStore
    private let writer: SettlementWriter
    private let interval: Duration
    private let lease: Duration
    private let clock: any WallClock
    private let logger: Logger

    /// A weak reference, so a request dropped without settling still reaches `RequestCharge.deinit`.
    struct LiveCharge {
        weak var charge: RequestCharge?
    }

    /// Rows claimed per pass; the rest wait for the next.
    static let claimBatch = 256

    public init(store: any InFlightStore, writer: SettlementWriter, interval: Duration, lease: Duration, clock: any WallClock, logger: Logger) {
        self.store = store
        self.writer = writer
        self.interval = interval
        self.lease = lease
        self.clock = clock
        self.logger = logger
    }

    func register(_ charge: RequestCharge) {
        live.withLock { $0[charge.requestID] = LiveCharge(charge: charge) }
    }

    func remove(_ requestID: String) {
        _ = live.withLock { $0.removeValue(forKey: requestID) }
    }

    /// Requests running here now; for tests and metrics.
    public var liveCount: Int { live.withLock { $0.count } }

    public func run() async throws {
        // A graceful shutdown ends the loop; requests still running settle through the writer.
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: self.interval)
                await self.pass()
            }
        }
    }

    /// One checkpoint and one claim. Failures are logged and retried next pass: a missed
    /// checkpoint only ages the last one, and unclaimed rows wait.
    func pass() async {
        let now = clock.now()
        let leaseUntil = now.addingTimeInterval(TimeInterval(lease.components.seconds))
        let charges = live.withLock { $0.values.compactMap(\.charge) }.compactMap { $0.checkpoint() }
        do { try await store.checkpointInFlight(charges, instanceID: instanceID, leaseUntil: leaseUntil) } catch {
            logger.error("checkpointing running requests failed", metadata: ["requests": "\(charges.count)", "error": "\(error)"])
        }
        do {
            let lapsed = try await store.claimLapsedInFlight(instanceID: instanceID, now: now, leaseUntil: leaseUntil, limit: Self.claimBatch)
            if !lapsed.isEmpty { logger.warning("settling requests whose instance died", metadata: ["requests": "\(lapsed.count)"]) }
            for charge in lapsed { await writer.settle(PendingSettlement(orphaned: charge)) }
        } catch {
            logger.error("claiming requests of dead instances failed", metadata: ["error": "\(error)"])
        }
    }
}
