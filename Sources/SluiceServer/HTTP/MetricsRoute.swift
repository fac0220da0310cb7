import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import SluiceCore

/// `GET /metrics`: per-account figures in Prometheus's text format, the gateway's own settlement
/// backlog, running requests and key-cache hits, and the request metrics (`RequestMetrics`).
///
/// The figures are the ones the pool keeps for selection and the admin view, read when scraped;
/// nothing on the request path counts twice. An admin's reset of an account restarts its
/// counters, which Prometheus treats as a counter reset, like a process restart.
struct MetricsRoute: Sendable {
    let pool: AccountPool
    let settlements: SettlementWriter
    let inFlight: InFlightJournal
    let requests: RequestMetrics
    let keys: KeyAuthenticator
    /// SHA-256 of the configured bearer token; nil leaves the route open.
    let tokenDigest: SHA256.Digest?

    init(
        pool: AccountPool, settlements: SettlementWriter, inFlight: InFlightJournal, requests: RequestMetrics, keys: KeyAuthenticator,
        bearerToken: String
    ) {
        self.pool = pool
        self.settlements = settlements
        self.inFlight = inFlight
        self.requests = requests
        self.keys = keys
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
        let registry = Self.registry(for: pool.figures())
        registry.makeGauge(descriptor: Self.settlementBacklog).set(Double(settlements.backlog))
        registry.makeGauge(descriptor: Self.requestsRunning).set(Double(inFlight.liveCount))
        let cache = keys.cacheCounts
        registry.makeCounter(descriptor: Self.keyCache("hits", "API-key lookups answered from the cache.")).increment(by: Int64(cache.hits))
        registry.makeCounter(descriptor: Self.keyCache("misses", "API-key lookups that read the store.")).increment(by: Int64(cache.misses))
        let lookups = cache.hits + cache.misses
        registry.makeGauge(descriptor: Self.keyCacheRatio).set(lookups == 0 ? 0 : Double(cache.hits) / Double(lookups))
        registry.emit(into: &buffer)
        requests.registry.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    /// `sluice_account_<name>_<unit>`, with its HELP line.
    static func metric(_ name: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", subsystem: "account", metricName: name, unitName: unit, helpText: help)
    }

    // Computed: the library's descriptor is not Sendable, so it cannot be a stored static.
    static var requests: MetricNameDescriptor { metric("requests", unit: "total", "Attempts sent through the account.") }
    static var errors: MetricNameDescriptor { metric("errors", unit: "total", "Failed attempts, by failure class.") }
    static var cooldowns: MetricNameDescriptor { metric("cooldowns", unit: "total", "Cooldowns the account entered (any scope).") }
    static var cooldownSeconds: MetricNameDescriptor {
        metric("cooldown_seconds", unit: "total", "Seconds of cooldown imposed on the account, counted when each cooldown begins.")
    }
    static var inFlight: MetricNameDescriptor { metric("in_flight", "Requests running on the account now.") }
    static var errorRate: MetricNameDescriptor { metric("error_rate", "Moving average of the share of failed attempts (0 to 1).") }
    static var cooling: MetricNameDescriptor { metric("cooling", "1 while the account or one of its models is cooling down.") }
    static var needsReauth: MetricNameDescriptor { metric("needs_reauth", "1 when the provider rejected the credential for good.") }
    static var headroom: MetricNameDescriptor { metric("headroom", unit: "ratio", "Share of its quota the provider last reported left.") }

    static var settlementBacklog: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sluice", subsystem: "settlement", metricName: "backlog",
            helpText: "Settled requests not yet written to the store, and requests whose holds wait to settle.")
    }
    static var requestsRunning: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", subsystem: "requests", metricName: "running", helpText: "Requests holding credits now.")
    }

    static func keyCache(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", subsystem: "key_cache", metricName: name, unitName: "total", helpText: help)
    }
    static var keyCacheRatio: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", subsystem: "key_cache", metricName: "hit", unitName: "ratio", helpText: "Share of API-key lookups answered from the cache.")
    }

    static func registry(for accounts: [AccountPool.AccountFigures]) -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        for account in accounts {
            let labels = [("account", String(account.accountID)), ("provider", account.provider)]
            let runtime = account.runtime
            registry.makeCounter(descriptor: requests, labels: labels).increment(by: Int64(runtime.requests))
            for failure in FailureClass.allCases {
                registry.makeCounter(descriptor: errors, labels: labels + [("class", failure.rawValue)])
                    .increment(by: Int64(runtime.errors[failure.rawValue] ?? 0))
            }
            registry.makeCounter(descriptor: cooldowns, labels: labels).increment(by: Int64(runtime.cooldownsEntered))
            registry.makeCounter(descriptor: cooldownSeconds, labels: labels).increment(by: runtime.secondsCooling)
            registry.makeGauge(descriptor: inFlight, labels: labels).set(Double(runtime.inFlight))
            registry.makeGauge(descriptor: errorRate, labels: labels).set(runtime.errorRate)
            registry.makeGauge(descriptor: cooling, labels: labels).set(account.cooling ? 1.0 : 0.0)
            registry.makeGauge(descriptor: needsReauth, labels: labels).set(account.needsReauth ? 1.0 : 0.0)
            if let ratio = runtime.headroom { registry.makeGauge(descriptor: headroom, labels: labels).set(ratio) }
        }
        return registry
    }
}
