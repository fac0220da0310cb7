import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OTel
import ServiceLifecycle
import SluiceProviders
import SluiceStore
import Synchronization
import Tracing

/// Where request traces go: an OTLP tracer when `tracing.enabled` is on, else nowhere. The tracer
/// is this gateway's own, not the process-global `InstrumentationSystem`, so that several
/// gateways in one process (the tests) each export to their own collector.
struct RequestTracing: Sendable {
    let tracer: (any Tracer)?

    static let off = RequestTracing(tracer: nil)

    /// The tracer, and the service that batches its spans and sends them (it runs with the
    /// gateway's services, so a shutdown flushes what is queued).
    static func make(_ config: SluiceConfig.Tracing, logger: Logger) throws -> (RequestTracing, (any Service)?) {
        guard config.enabled else { return (.off, nil) }
        var otel = OTel.Configuration.default
        otel.serviceName = config.serviceName
        otel.diagnosticLogger = .custom(logger)
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.propagators = [.traceContext]
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.endpoint = config.endpoint
        otel.traces.otlpExporter.protocol = config.protocol == "http/json" ? .httpJSON : .httpProtobuf
        otel.traces.otlpExporter.timeout = .milliseconds(config.exportTimeoutMillis)
        otel.traces.sampler = .parentBasedTraceIDRatio(ratio: config.sampleRatio) ?? .parentBasedAlwaysOn
        otel.traces.batchSpanProcessor.scheduleDelay = .milliseconds(config.exportDelayMillis)
        otel.traces.batchSpanProcessor.exportTimeout = .milliseconds(config.exportTimeoutMillis)
        otel.traces.batchSpanProcessor.maxQueueSize = config.maxQueuedSpans
        otel.traces.batchSpanProcessor.maxExportBatchSize = min(512, config.maxQueuedSpans)
        do {
            let (tracer, service) = try OTel.makeTracingBackend(configuration: otel)
            return (RequestTracing(tracer: tracer), service)
        } catch {
            // OTEL_* variables override the config (OTEL_SDK_DISABLED=true among them).
            throw StartupError("tracing is enabled but its exporter cannot be made (check the OTEL_* variables): \(error)")
        }
    }

    /// A server span for the request, continuing the caller's trace when it sent a `traceparent`.
    func start(_ request: Request) -> RequestTrace? {
        guard let tracer else { return nil }
        var parent = InstrumentationContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let span = tracer.startSpan(request.method.rawValue, context: parent, ofKind: .server)
        return RequestTrace(tracer: tracer, span: span)
    }
}

/// One request's spans: its server span, and the upstream attempt that served it, which is kept
/// open until the request ends so that it carries the usage the answer reported. Attribute names
/// follow the OpenTelemetry HTTP and GenAI conventions; Sluice's own are under `sluice.`.
final class RequestTrace: Sendable {
    private let tracer: any Tracer
    private let span: any Span
    private let serving = Mutex<(any Span)?>(nil)

    init(tracer: any Tracer, span: any Span) {
        self.tracer = tracer
        self.span = span
    }

    /// A client span for one attempt on one account.
    func startAttempt(operation: String, model: String, provider: String, accountID: Int64, stream: Bool) -> any Span {
        let attempt = tracer.startSpan("\(operation) \(model)", context: span.context, ofKind: .client)
        attempt.updateAttributes { attributes in
            attributes["gen_ai.operation.name"] = operation
            attributes["gen_ai.provider.name"] = provider
            attributes["gen_ai.request.model"] = model
            attributes["sluice.account_id"] = accountID
            attributes["sluice.stream"] = stream
        }
        return attempt
    }

    /// The attempt failed and the request moves on (or gives up): the span ends now.
    static func attemptFailed(_ attempt: any Span, failure: String, status: Int?, detail: String) {
        attempt.updateAttributes { attributes in
            attributes["error.type"] = failure
            if let status { attributes["http.response.status_code"] = status }
        }
        attempt.setStatus(SpanStatus(code: .error, message: detail))
        attempt.end()
    }

    /// The attempt answered: its span ends with the request.
    func attemptCommitted(_ attempt: any Span, status: Int) {
        attempt.attributes["http.response.status_code"] = status
        serving.withLock { $0 = attempt }
    }

    /// Ends the attempt that served the request and the request's own span, once its response
    /// has been written.
    func finish(method: String, route: String, status: Int, requestID: String, seen: RequestObservation.Fields) {
        if let attempt = serving.withLock({ $0.take() }) {
            if let record = seen.record {
                attempt.updateAttributes { Self.usage(of: record, into: &$0) }
                if record.endReason != "completed" { attempt.setStatus(SpanStatus(code: .error, message: record.endReason)) }
            }
            attempt.end()
        }
        span.operationName = "\(method) \(route)"
        span.updateAttributes { attributes in
            attributes["http.request.method"] = method
            attributes["http.route"] = route
            attributes["http.response.status_code"] = status
            attributes["sluice.request_id"] = requestID
            if let user = seen.userID { attributes["sluice.user_id"] = user }
            if let prefix = seen.keyPrefix { attributes["sluice.key_prefix"] = prefix }
            if let record = seen.record {
                attributes["gen_ai.request.model"] = record.model
                if let provider = record.provider { attributes["gen_ai.provider.name"] = provider }
                if let account = record.accountID { attributes["sluice.account_id"] = account }
                attributes["sluice.end_reason"] = record.endReason
                Self.usage(of: record, into: &attributes)
            }
            if let cost = seen.cost { attributes["sluice.cost"] = "\(cost)" }
        }
        // As the HTTP server convention has it: a 5xx is the server's error, a 4xx the client's.
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }

    private static func usage(of record: UsageRecord, into attributes: inout SpanAttributes) {
        if let served = record.servedModel { attributes["gen_ai.response.model"] = served }
        attributes["gen_ai.usage.input_tokens"] = record.usage.promptTokens
        attributes["gen_ai.usage.output_tokens"] = record.usage.completionTokens
        if record.usage.cachedPromptTokens > 0 { attributes["gen_ai.usage.cache_read.input_tokens"] = record.usage.cachedPromptTokens }
        if record.usage.cacheWriteTokens > 0 { attributes["gen_ai.usage.cache_creation.input_tokens"] = record.usage.cacheWriteTokens }
        if let ttft = record.ttftMs { attributes["sluice.time_to_first_byte_ms"] = ttft }
        attributes["sluice.usage_estimated"] = record.costEstimated
    }
}

/// Reads W3C trace context (`traceparent`, `tracestate`) from a request's fields.
private struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from fields: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { fields[$0] }
    }
}

extension GatewayRequest.Operation {
    /// `gen_ai.operation.name`, and the first word of an attempt's span name.
    var spanName: String {
        switch self {
        case .chat: "chat"
        case .embeddings: "embeddings"
        case .countTokens: "count_tokens"
        }
    }
}
