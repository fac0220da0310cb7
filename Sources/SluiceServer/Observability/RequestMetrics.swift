import Foundation
import Prometheus
import SluiceCore
import SluiceStore

/// Request metrics for `/metrics`, counted as requests end: every route's count and duration, and
/// for gateway requests the upstream's time to first byte and duration by provider, tokens by
/// direction and model, and credits charged. Labels are route templates, providers and the models
/// the pool serves, so their number stays bounded whatever clients send.
///
/// swift-prometheus's collectors are thread-safe and the registry returns the same collector for
/// the same labels, so a request costs a lookup and an atomic add per figure.
final class RequestMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    static let buckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]

    static var requests: MetricNameDescriptor {
        MetricNameDescriptor(metricName: "http_requests", unitName: "total", helpText: "Requests, by route template, method and status.")
    }
    static var duration: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "http_request_duration", unitName: "seconds",
            helpText: "Time from a request's head to its response's last byte, by route template and method.")
    }
    static var upstreamFirstByte: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sluice", subsystem: "upstream", metricName: "time_to_first_byte", unitName: "seconds",
            helpText: "Gateway requests' time to the first content they relayed (a whole answer's time for one not streamed), by provider.")
    }
    static var upstreamDuration: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sluice", subsystem: "upstream", metricName: "duration", unitName: "seconds",
            helpText: "Gateway requests' whole time with the upstream, by provider.")
    }
    static var tokens: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", metricName: "tokens", unitName: "total", helpText: "Tokens, by direction (input, output, cached) and model.")
    }
    static var credits: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", metricName: "credits_charged", unitName: "total", helpText: "Credits gateway requests cost, by model.")
    }

    func request(route: String, method: String, status: Int, duration: Duration, settled record: UsageRecord?, cost: Credits?) {
        registry.makeCounter(descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.duration, labels: [("route", route), ("method", method)], buckets: Self.buckets)
            .record(duration)
        guard let record else { return }
        if let provider = record.provider {
            let labels = [("provider", provider)]
            registry.makeDurationHistogram(descriptor: Self.upstreamDuration, labels: labels, buckets: Self.buckets)
                .record(.milliseconds(record.latencyMs))
            registry.makeDurationHistogram(descriptor: Self.upstreamFirstByte, labels: labels, buckets: Self.buckets)
                .record(.milliseconds(record.firstByteMs))
        }
        let usage = record.usage
        for (direction, count) in [("input", usage.promptTokens), ("output", usage.completionTokens), ("cached", usage.cachedPromptTokens)] where count > 0 {
            registry.makeCounter(descriptor: Self.tokens, labels: [("direction", direction), ("model", record.model)]).increment(by: Int64(count))
        }
        if let cost, cost > .zero {
            registry.makeCounter(descriptor: Self.credits, labels: [("model", record.model)])
                .increment(by: Double(cost.micros) / 1_000_000)
        }
    }
}
