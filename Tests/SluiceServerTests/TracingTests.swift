import Foundation
import Logging
import SluiceCore
import SluiceMockUpstream
@testable import SluiceServer
import Testing

/// Traces, asserted from what a loopback OTLP collector received for real requests.
@Suite struct TracingTests {
    static func tracing(to receiver: OTLPReceiver, sampleRatio: Double = 1) -> (inout SluiceConfig) -> Void {
        { config in
            config.tracing.enabled = true
            config.tracing.endpoint = receiver.url
            config.tracing.protocol = "http/json"
            config.tracing.serviceName = "sluice-test"
            config.tracing.sampleRatio = sampleRatio
            config.tracing.exportDelayMillis = 20
        }
    }

    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpan = "00f067aa0ba902b7"
    static var traceparent: (String, String) { ("traceparent", "00-\(traceID)-\(callerSpan)-01") }

    @Test func aRequestAndEachUpstreamAttemptAreSpansWithTheGenAIAttributes() async throws {
        try await OTLPReceiver.run { receiver in
            try await Harness.run(configure: Self.tracing(to: receiver)) { h in
                let first = try await h.account(secret: "first", priority: 10)
                let second = try await h.account(secret: "second", priority: 0)
                h.control.set(.fail(status: 500), for: "first")
                let user = try await h.user()
                let reply = try await h.request(
                    "/v1/chat/completions", body: Harness.chatBody(stream: false), key: user.key, headers: [Self.traceparent])
                #expect(reply.status == 200)
                await h.settled()
                let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
                try await eventually("the request's span was exported") { receiver.spans.contains { $0.kind == 2 && $0.traceID == Self.traceID } }
                let spans = receiver.spans.filter { $0.traceID == Self.traceID }

                // The request: a server span continuing the caller's trace.
                let request = try #require(spans.first { $0.kind == 2 })
                #expect(request.name == "POST /v1/chat/completions")
                #expect(request.parentSpanID == Self.callerSpan)
                #expect(request.service == "sluice-test")
                #expect(request.statusCode != 2)
                let expected: [String: String] = [
                    "http.request.method": "POST", "http.route": "/v1/chat/completions", "http.response.status_code": "200",
                    "sluice.request_id": reply.headers.first(name: "x-request-id") ?? "?", "sluice.user_id": "\(user.id)",
                    "gen_ai.request.model": Harness.model, "gen_ai.response.model": Harness.model, "gen_ai.provider.name": "mock",
                    "gen_ai.usage.input_tokens": "\(log.usage.promptTokens)", "gen_ai.usage.output_tokens": "\(log.usage.completionTokens)",
                    "sluice.account_id": "\(second)", "sluice.end_reason": "completed", "sluice.cost": "\(log.charged)",
                ]
                for (key, value) in expected { #expect(request.attributes[key] == value, "\(key)") }
                #expect(request.attributes["sluice.key_prefix"].map { user.key.hasPrefix($0) } == true)

                // Each attempt: a client span under the request's.
                let attempts = spans.filter { $0.kind == 3 }
                #expect(attempts.count == 2)
                #expect(attempts.allSatisfy { $0.parentSpanID == request.spanID && $0.name == "chat \(Harness.model)" })
                let failed = try #require(attempts.first { $0.attributes["sluice.account_id"] == "\(first)" })
                #expect(failed.statusCode == 2)
                #expect(failed.attributes["http.response.status_code"] == "500")
                #expect(failed.attributes["error.type"]?.isEmpty == false)
                #expect(failed.attributes["gen_ai.usage.input_tokens"] == nil)
                let served = try #require(attempts.first { $0.attributes["sluice.account_id"] == "\(second)" })
                #expect(served.statusCode != 2)
                #expect(served.attributes["gen_ai.operation.name"] == "chat")
                #expect(served.attributes["gen_ai.provider.name"] == "mock")
                #expect(served.attributes["gen_ai.request.model"] == Harness.model)
                #expect(served.attributes["http.response.status_code"] == "200")
                #expect(served.attributes["gen_ai.usage.input_tokens"] == "\(log.usage.promptTokens)")
                #expect(served.attributes["gen_ai.usage.output_tokens"] == "\(log.usage.completionTokens)")

                // No key, token or upstream secret in any span.
                let values = spans.flatMap { $0.attributes.values }
                #expect(!values.contains { $0.contains(user.key) || $0.contains("first") || $0.contains("second") })
            }
        }
    }

    @Test func aStreamsSpansEndWhenItEndsAndCarryItsUsage() async throws {
        try await OTLPReceiver.run { receiver in
            try await Harness.run(configure: Self.tracing(to: receiver)) { h in
                try await h.account(secret: "up")
                let user = try await h.user()
                let (response, events) = try await h.streamEvents(user.key)
                #expect(response.status == .ok)
                #expect(events.last == "[DONE]")
                await h.settled()
                let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
                #expect(log.usage.completionTokens > 0)
                try await eventually("both spans were exported") { receiver.spans.filter { $0.kind == 2 || $0.kind == 3 }.count >= 2 }
                let request = try #require(receiver.spans.first { $0.kind == 2 })
                let attempt = try #require(receiver.spans.first { $0.kind == 3 })
                #expect(attempt.parentSpanID == request.spanID && attempt.traceID == request.traceID)
                #expect(attempt.attributes["sluice.stream"] == "1")
                for span in [request, attempt] {
                    #expect(span.attributes["gen_ai.usage.output_tokens"] == "\(log.usage.completionTokens)")
                    #expect(span.attributes["gen_ai.usage.input_tokens"] == "\(log.usage.promptTokens)")
                }
                #expect(request.attributes["sluice.time_to_first_byte_ms"] == log.ttftMs.map { "\($0)" })
            }
        }
    }

    @Test func aGatewayErrorIsAnErrorSpanAndAClientsIsNot() async throws {
        try await OTLPReceiver.run { receiver in
            try await Harness.run(configure: Self.tracing(to: receiver)) { h in
                let user = try await h.user()
                // Refused before any upstream: the client's errors, and an unrouted path.
                #expect(try await h.chat(user.key).status == 404)
                #expect(try await h.chat("sk-not-a-key").status == 401)
                #expect(try await h.request("/no/such/path", method: .GET, key: nil).status == 404)
                try await eventually("three spans were exported") { receiver.spans.count >= 3 }
                #expect(!receiver.spans.contains { $0.kind == 3 })
                #expect(!receiver.spans.contains { $0.statusCode == 2 })
                let unknownModel = try #require(receiver.spans.first { $0.attributes["http.route"] == "/v1/chat/completions" && $0.attributes["sluice.user_id"] != nil })
                #expect(unknownModel.attributes["http.response.status_code"] == "404")
                #expect(unknownModel.attributes["sluice.user_id"] == "\(user.id)")
                let refused = try #require(receiver.spans.first { $0.attributes["http.response.status_code"] == "401" })
                #expect(refused.attributes["sluice.user_id"] == nil)
                #expect(receiver.spans.contains { $0.name == "GET unmatched" && $0.attributes["http.response.status_code"] == "404" })

                // Every account failing is the gateway's error: an error span over its failed attempt.
                try await h.account(secret: "down")
                h.control.set(.fail(status: 500), for: "down")
                let failed = try await h.chat(user.key)
                #expect(failed.status >= 500)
                try await eventually("the failed request's span was exported") { receiver.spans.contains { $0.statusCode == 2 && $0.kind == 2 } }
                let request = try #require(receiver.spans.first { $0.statusCode == 2 && $0.kind == 2 })
                #expect(request.attributes["http.response.status_code"] == "\(failed.status)")
                let attempts = receiver.spans.filter { $0.parentSpanID == request.spanID }
                #expect(attempts.count == 1 && attempts.allSatisfy { $0.kind == 3 && $0.statusCode == 2 })
            }
        }
    }

    @Test func theSampleRatioIsHonouredAndACallersSampledTraceIsKept() async throws {
        try await OTLPReceiver.run { receiver in
            try await Harness.run(configure: Self.tracing(to: receiver, sampleRatio: 0)) { h in
                try await h.account(secret: "up")
                let user = try await h.user()
                for _ in 0..<3 { #expect(try await h.chat(user.key).status == 200) }
                let traced = try await h.request(
                    "/v1/chat/completions", body: Harness.chatBody(stream: false), key: user.key, headers: [Self.traceparent])
                #expect(traced.status == 200)
                try await eventually("the caller's trace was exported") { receiver.spans.contains { $0.kind == 2 } }
                // Exported in the order they ended: the unsampled requests would have come first.
                #expect(receiver.spans.allSatisfy { $0.traceID == Self.traceID })
            }
        }
    }

    @Test func aCollectorThatIsDownCostsNoRequest() async throws {
        try await Harness.run(configure: { config in
            config.tracing.enabled = true
            config.tracing.endpoint = "http://127.0.0.1:9/v1/traces"
            config.tracing.exportDelayMillis = 20
            config.tracing.exportTimeoutMillis = 500
        }) { h in
            try await h.account(secret: "up")
            let user = try await h.user()
            for _ in 0..<5 { #expect(try await h.chat(user.key).status == 200) }
            #expect(try await h.streamEvents(user.key).0.status == .ok)
        }
    }

    @Test func offByDefaultWithNoTracerAndNoExporter() throws {
        let (tracing, exporter) = try RequestTracing.make(SluiceConfig().tracing, logger: Logger(label: "test"))
        #expect(tracing.tracer == nil)
        #expect(exporter == nil)
    }

    @Test func tracingKeysAreReadAndCheckedAtStartup() throws {
        let yaml = """
            tracing:
              enabled: true
              endpoint: https://collector.example:4318/v1/traces
              protocol: http/json
              service_name: gateway-eu
              sample_ratio: 0.25
              export_delay_millis: 1000
              export_timeout_millis: 3000
              max_queued_spans: 4096
            """
        var config = SluiceConfig()
        try ConfigLoader.apply(yaml: yaml, source: "test.yaml", to: &config)
        #expect(config.tracing.enabled && config.tracing.protocol == "http/json" && config.tracing.serviceName == "gateway-eu")
        #expect(config.tracing.endpoint == "https://collector.example:4318/v1/traces" && config.tracing.sampleRatio == 0.25)
        #expect(config.tracing.exportDelayMillis == 1000 && config.tracing.exportTimeoutMillis == 3000 && config.tracing.maxQueuedSpans == 4096)
        for bad in ["protocol: grpc", "sample_ratio: 1.5", "endpoint: collector:4318", "max_queued_spans: 0", "exporter: otlp"] {
            var copy = SluiceConfig()
            #expect(throws: ConfigLoader.Error.self, "\(bad)") { try ConfigLoader.apply(yaml: "tracing:\n  \(bad)\n", source: "t", to: &copy) }
        }
    }
}
