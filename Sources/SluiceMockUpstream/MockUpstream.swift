import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// A real HTTP server on loopback that speaks the OpenAI chat wire format, OpenAI's Responses
/// API (`MockOpenAIResponses.swift`), Anthropic's Messages API (`MockAnthropic.swift`) and
/// Gemini's `generateContent` (`MockGemini.swift`).
///
/// It is the demo upstream of `sluice serve --demo` and the provider stand-in of the end-to-end
/// tests. It names itself in every answer, so nobody mistakes it for a real model.
public enum MockUpstream {
    public static let ownedBy = "sluice-demo"
    public static let reply = "Hello! This answer comes from the Sluice demo upstream, not from a real model. Streaming works."

    /// The reply in about ten pieces, as a real model would stream it.
    static let pieces: [String] = {
        let words = reply.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        return stride(from: 0, to: words.count, by: 2).map { i in
            words[i..<min(i + 2, words.count)].joined(separator: " ") + (i + 2 < words.count ? " " : "")
        }
    }()

    /// Builds the server. `port` 0 picks a free port; `onReady` receives the bound port.
    public static func application(
        host: String = "127.0.0.1", port: Int = 0, control: MockControl,
        onReady: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            try await chatCompletions(request, control: control)
        }
        router.post("/v1/embeddings") { request, _ -> Response in
            try await embeddings(request, control: control)
        }
        router.post("/v1/responses") { request, _ -> Response in
            try await responses(request, control: control)
        }
        router.post("/v1/messages/count_tokens") { request, _ -> Response in
            try await countTokens(request, control: control)
        }
        router.post("/v1/messages") { request, _ -> Response in
            try await messages(request, control: control)
        }
        router.post("/v1beta/models/{action}") { request, context -> Response in
            try await generateContent(request, action: context.parameters.get("action") ?? "", control: control)
        }
        router.post("/oauth/token") { request, _ -> Response in
            try await control.tokenEndpoint.respond(request)
        }
        router.get("/v1/models") { _, _ -> Response in
            json(200, #"{"object":"list","data":[{"id":"sluice-demo","object":"model","created":1700000000,"owned_by":"sluice-demo"}]}"#)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "sluice-demo-upstream"),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "sluice.mock-upstream", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    struct ChatProbe: Decodable {
        struct StreamOptions: Decodable { var include_usage: Bool? }
        var model: String?
        var stream: Bool?
        var stream_options: StreamOptions?
    }

    static func chatCompletions(_ request: Request, control: MockControl) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 << 20)
        let data = Data(buffer: body)
        let authorization = request.headers[.authorization]
        let apiKeyHeader = request.headers[HTTPField.Name("api-key")!]
        let cookie = request.headers[.cookie]
        control.record(.init(authorization: authorization, apiKeyHeader: apiKeyHeader, cookie: cookie, body: data))
        let credential = authorization.map { String($0.dropFirst("Bearer ".count)) } ?? apiKeyHeader
            ?? cookie.flatMap(sessionCookie)
        let probe = try? JSONDecoder().decode(ChatProbe.self, from: data)
        let model = probe?.model ?? "sluice-demo"
        let stream = probe?.stream ?? false
        let includeUsage = probe?.stream_options?.include_usage ?? false

        var headers = HTTPFields()
        if let setCookie = control.nextCookie() { headers[.setCookie] = setCookie }
        if let quota = control.quota(for: credential) {
            headers[HTTPField.Name("x-ratelimit-remaining-requests")!] = String(quota.remaining)
            headers[HTTPField.Name("x-ratelimit-limit-requests")!] = String(quota.limit)
        }

        let behavior = control.behavior(for: credential)
        switch behavior {
        case .fail(let status, let retryAfter):
            if let retryAfter { headers[.retryAfter] = retryAfter }
            let type = status == 429 ? "rate_limit_exceeded" : "server_error"
            return json(status, #"{"error":{"message":"mock upstream failure","type":"\#(type)","param":null,"code":null}}"#, headers)
        case .garbage:
            var html = headers
            html[.contentType] = "text/html"
            return Response(status: .ok, headers: html, body: .init(byteBuffer: ByteBuffer(string: "<html><body>Bad gateway</body></html>")))
        case .hang:
            try await Task.sleep(for: .seconds(3600))
            return json(500, "{}")
        case .succeed where !stream, .toolCall where !stream, .burst where !stream:
            return json(200, completion(model: model), headers)
        case .inBandError:
            return sse(headers) { writer in
                try await writer.write(event(#"{"error":{"message":"mock in-band failure","type":"server_error"}}"#))
                try await writer.finish(nil)
            }
        case .burst:
            return sse(headers) { writer in
                try await writer.write(burst(model: model, includeUsage: includeUsage))
                try await writer.finish(nil)
            }
        case .succeed, .breakStream, .gated, .endless, .flood, .toolCall:
            return sse(headers) { writer in
                do {
                    try await streamChunks(model: model, includeUsage: includeUsage, behavior: behavior, control: control, writer: &writer)
                } catch {
                    control.noteAbandoned()
                    throw error
                }
            }
        }
    }

    static func sessionCookie(_ header: String) -> String? {
        header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix("session=") }.map { String($0.dropFirst("session=".count)) }
    }
}
