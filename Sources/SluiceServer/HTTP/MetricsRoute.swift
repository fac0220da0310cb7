import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import SluiceCore

/// `GET /metrics`: per-account figures in Prometheus's text format.
///
/// The figures are the ones the pool keeps for selection and the admin view, read when scraped;
/// nothing on the request path counts twice. An admin's reset of an account restarts its
/// counters, which Prometheus treats as a counter reset, like a process restart.
struct MetricsRoute: Sendable {
    let pool: AccountPool
    /// SHA-256 of the configured bearer token; nil leaves the route open.
    let tokenDigest: SHA256.Digest?

    init(pool: AccountPool, bearerToken: String) {
        self.pool = pool
        tokenDigest = bearerToken.isEmpty ? nil : SHA256.hash(data: Data(bearerToken.utf8))
    }

    func register(on router: Router<SluiceRequestContext>) {
        router.get("/metrics") { request, _ in try render(request) }
    }

    func render(_ request: Request) throws -> Response {
        if let tokenDigest {
            // Digests are compared, so the time taken says nothing about the token.
            let given = request.headers[.authorization].map { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : "" } ?? ""
            guard SHA256.hash(data: Data(given.utf8)) == tokenDigest else {
                throw GatewayError(
                    status: 401, type: "invalid_request_error", code: "invalid_metrics_token",
                    message: "GET /metrics wants `Authorization: Bearer <metrics.bearer_token>`.", shouldRetry: false)
            }
        }
        var buffer: [UInt8] = []
        Self.registry(for: pool.figures()).emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    static func registry(for accounts: [AccountPool.AccountFigures]) -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        for account in accounts {
            let labels = [("account", String(account.accountID)), ("provider", account.provider)]
            let runtime = account.runtime
            registry.makeCounter(name: "sluice_account_requests_total", labels: labels, help: "Attempts sent through the account.")
                .increment(by: Int64(runtime.requests))
            for failure in FailureClass.allCases {
                registry.makeCounter(
                    name: "sluice_account_errors_total", labels: labels + [("class", failure.rawValue)],
                    help: "Failed attempts, by failure class."
                ).increment(by: Int64(runtime.errors[failure.rawValue] ?? 0))
            }
            registry.makeCounter(name: "sluice_account_cooldowns_total", labels: labels, help: "Cooldowns the account entered (any scope).")
                .increment(by: Int64(runtime.cooldownsEntered))
            registry.makeCounter(
                name: "sluice_account_cooldown_seconds_total", labels: labels,
                help: "Seconds of cooldown imposed on the account, counted when each cooldown begins."
            ).increment(by: runtime.secondsCooling)
            registry.makeGauge(name: "sluice_account_in_flight", labels: labels, help: "Requests running on the account now.")
                .set(Double(runtime.inFlight))
            registry.makeGauge(name: "sluice_account_error_rate", labels: labels, help: "Moving average of the share of failed attempts (0 to 1).")
                .set(runtime.errorRate)
            registry.makeGauge(name: "sluice_account_cooling", labels: labels, help: "1 while the account or one of its models is cooling down.")
                .set(account.cooling ? 1.0 : 0.0)
            registry.makeGauge(name: "sluice_account_needs_reauth", labels: labels, help: "1 when the provider rejected the credential for good.")
                .set(account.needsReauth ? 1.0 : 0.0)
            if let headroom = runtime.headroom {
                registry.makeGauge(name: "sluice_account_headroom_ratio", labels: labels, help: "Share of its quota the provider last reported left.")
                    .set(headroom)
            }
        }
        return registry
    }
}
