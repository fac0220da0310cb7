import Foundation
import Hummingbird
import Logging
import SluiceCore
import SluiceStore
import Synchronization

/// What the access log and the request metrics learn about one request as it is served: who sent
/// it, and for a gateway request how it was served and charged. Filled by the handlers, read by
/// `RequestObserver` when the response has been written.
final class RequestObservation: Sendable {
    struct Fields: Sendable {
        var userID: Int64?
        var keyPrefix: String?
        /// The settled gateway request, with its cost before the cap at the balance.
        var record: UsageRecord?
        var cost: Credits?
    }

    private let fields = Mutex(Fields())
    /// The request's spans when tracing is on; nil costs a request nothing.
    let trace: RequestTrace?

    init(trace: RequestTrace? = nil) {
        self.trace = trace
    }

    func identify(_ key: APIKeyRecord) {
        fields.withLock { $0.userID = key.userID; $0.keyPrefix = key.prefix }
    }

    func settled(_ record: UsageRecord, cost: Credits) {
        fields.withLock { $0.record = record; $0.cost = cost }
    }

    var snapshot: Fields { fields.withLock { $0 } }
}

extension UsageRecord {
    /// When the client had the answer's first byte: a stream's first content, or a whole answer.
    var firstByteMs: Int { ttftMs ?? latencyMs }
}

/// Writes one access-log line per request and counts it in the request metrics, once its
/// response has been written to the end (so a stream is measured whole). Outermost, so it sees
/// the answer every error became.
struct RequestObserver: RouterMiddleware {
    typealias Context = SluiceRequestContext
    let metrics: RequestMetrics
    /// Nil turns the access log off (`logging.access_log: false`).
    let accessLog: Logger?
    let tracing: RequestTracing

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let method = request.method.rawValue
        var context = context
        if let trace = tracing.start(request) { context.observation = RequestObservation(trace: trace) }
        do {
            var response = try await next(request, context)
            let status = Int(response.status.code)
            let route = context.endpointPath
            let observation = context.observation
            let requestID = context.requestID
            let body = response.body
            // Hummingbird's own post-write hook is not public; this is the same wrap.
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer { finish(method: method, route: route, status: status, started: started, requestID: requestID, observation: observation) }
                try await body.write(writer)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            finish(method: method, route: context.endpointPath, status: Int(status), started: started, requestID: context.requestID, observation: context.observation)
            throw error
        }
    }

    private func finish(method: String, route: String?, status: Int, started: ContinuousClock.Instant, requestID: String, observation: RequestObservation) {
        let elapsed = ContinuousClock.now - started
        // Templates, never raw paths: an unrouted path (Hummingbird names it NotFound) is one
        // label, however many are probed.
        let template = route.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
        let seen = observation.snapshot
        metrics.request(route: template, method: method, status: status, duration: elapsed, settled: seen.record, cost: seen.cost)
        observation.trace?.finish(method: method, route: template, status: status, requestID: requestID, seen: seen)
        // The line is built only when it will be written: under `logging.level` warning and above
        // (benchmarks run at error) the access log costs a comparison.
        guard let accessLog, accessLog.logLevel <= .info else { return }
        var line: Logger.Metadata = [
            "request_id": "\(requestID)", "method": "\(method)", "route": "\(template)", "status": "\(status)",
            "latency_ms": "\(RequestCharge.millis(elapsed))",
        ]
        if let user = seen.userID { line["user_id"] = "\(user)" }
        if let prefix = seen.keyPrefix { line["key_prefix"] = "\(prefix)" }
        if let record = seen.record {
            line["model"] = "\(record.model)"
            if let account = record.accountID { line["account_id"] = "\(account)" }
            if let provider = record.provider { line["provider"] = "\(provider)" }
            line["ttfb_ms"] = "\(record.firstByteMs)"
            line["prompt_tokens"] = "\(record.usage.promptTokens)"
            line["completion_tokens"] = "\(record.usage.completionTokens)"
            line["end_reason"] = "\(record.endReason)"
        }
        if let cost = seen.cost { line["cost"] = "\(cost)" }
        accessLog.info("request", metadata: line)
    }
}
