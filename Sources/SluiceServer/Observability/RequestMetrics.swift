import Foundation
import Prometheus
import SluiceCore
import SluiceStore
import Synchronization

/// Request metrics for `/metrics`, counted as requests end: every route's count and duration, and
/// for gateway requests the upstream's time to first byte and duration by provider, tokens by
/// direction and model, and credits charged. Labels are route templates, providers and the models
/// the pool serves, so their number stays bounded whatever clients send.
///
/// swift-prometheus's collectors are thread-safe and the registry returns the same collector for
/// the same labels. Asking the registry builds the collector's name and sorts its labels every
/// time, which was 4.5 % of the gateway's CPU under load, so the collectors each label set
/// resolved to are kept here, and a request costs one small lookup per group of figures and an
/// atomic add per figure.
final class RequestMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    private struct RouteKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }
    private struct RouteCollectors {
        let requests: Counter
        let duration: DurationHistogram
    }
    private struct ProviderCollectors {
        let duration: DurationHistogram
        let firstByte: DurationHistogram
    }
    private struct ModelCollectors {
        let input: Counter
        let output: Counter
        let cached: Counter
        let credits: Counter
    }
    private struct Collectors {
        var routes: [RouteKey: RouteCollectors] = [:]
        var providers: [String: ProviderCollectors] = [:]
        var models: [String: ModelCollectors] = [:]
    }
    private let collectors = Mutex(Collectors())

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
        let route = self.route(RouteKey(route: route, method: method, status: status))
        route.requests.increment()
        route.duration.record(duration)
        guard let record else { return }
        if let provider = record.provider {
            let collectors = self.provider(provider)
            collectors.duration.record(.milliseconds(record.latencyMs))
            collectors.firstByte.record(.milliseconds(record.firstByteMs))
        }
        let usage = record.usage
        let model = self.model(record.model)
        for (counter, count) in [(model.input, usage.promptTokens), (model.output, usage.completionTokens), (model.cached, usage.cachedPromptTokens)]
        where count > 0 {
            counter.increment(by: Int64(count))
        }
        if let cost, cost > .zero { model.credits.increment(by: Double(cost.micros) / 1_000_000) }
    }

    // Labels are bounded (route templates, providers, served models), and so are these maps.

    private func route(_ key: RouteKey) -> RouteCollectors {
        if let known = collectors.withLock({ $0.routes[key] }) { return known }
        let made = RouteCollectors(
            requests: registry.makeCounter(
                descriptor: Self.requests, labels: [("route", key.route), ("method", key.method), ("status", String(key.status))]),
            duration: registry.makeDurationHistogram(
                descriptor: Self.duration, labels: [("route", key.route), ("method", key.method)], buckets: Self.buckets))
        collectors.withLock { $0.routes[key] = made }
        return made
    }

    private func provider(_ provider: String) -> ProviderCollectors {
        if let known = collectors.withLock({ $0.providers[provider] }) { return known }
        let labels = [("provider", provider)]
        let made = ProviderCollectors(
            duration: registry.makeDurationHistogram(descriptor: Self.upstreamDuration, labels: labels, buckets: Self.buckets),
            firstByte: registry.makeDurationHistogram(descriptor: Self.upstreamFirstByte, labels: labels, buckets: Self.buckets))
        collectors.withLock { $0.providers[provider] = made }
        return made
    }

    private func model(_ model: String) -> ModelCollectors {
        if let known = collectors.withLock({ $0.models[model] }) { return known }
        func tokens(_ direction: String) -> Counter {
            registry.makeCounter(descriptor: Self.tokens, labels: [("direction", direction), ("model", model)])
        }
        let made = ModelCollectors(
            input: tokens("input"), output: tokens("output"), cached: tokens("cached"),
            credits: registry.makeCounter(descriptor: Self.credits, labels: [("model", model)]))
        collectors.withLock { $0.models[model] = made }
        return made
    }
}
