import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// The drain on SIGTERM. The server stops accepting connections as graceful shutdown begins (its
/// service is shut down first) and waits for the requests it has; `/health/ready` answers 503 from
/// then on; a running stream gets `server.drain_seconds` to end by itself, then ends with an error
/// event at its next wake-up (an upstream read or a keepalive), and settles like any other.
public final class Drain: Sendable {
    private let grace: Duration
    private let deadline = Mutex<ContinuousClock.Instant?>(nil)

    init(grace: Duration) { self.grace = grace }

    /// Starts the grace period; later calls keep the first start.
    func begin() {
        deadline.withLock { deadline in
            if deadline == nil { deadline = .now + grace }
        }
    }

    var draining: Bool { deadline.withLock { $0 != nil } || Task.isShuttingDownGracefully }
    var expired: Bool { deadline.withLock { $0.map { ContinuousClock.now >= $0 } ?? false } }
}

/// Runs after the application in the process's service group, so SIGTERM reaches it first: it
/// starts the drain (readiness turns 503) and keeps the listener open for `notice`, for load
/// balancers to see it, before the server's own graceful shutdown stops accepting.
struct DrainGate: Service {
    let drain: Drain
    let notice: Duration

    func run() async throws {
        try? await gracefulShutdown()
        drain.begin()
        try? await Task.sleep(for: notice)
    }
}

/// Runs the gateway until SIGTERM or SIGINT, then drains: see `Drain`. Settlements are flushed
/// by the settlement writer's own shutdown, after the server has stopped.
public func runGateway(_ app: some ApplicationProtocol, gateway: Gateway, config: SluiceConfig, logger: Logger) async throws {
    let gate = DrainGate(drain: gateway.drain, notice: .seconds(config.server.unreadySeconds))
    let group = ServiceGroup(
        configuration: .init(services: [app, gate], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}
