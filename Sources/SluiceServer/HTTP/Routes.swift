import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceRedis
import SluiceStore

/// `/v1/models`, `/v1/models/{id}` and `/health`; the hot path's routes are `GatewayHandler`s.
struct PublicRoutes: Sendable {
    let authenticator: KeyAuthenticator
    let pool: AccountPool
    let store: any GatewayStore
    let redis: RedisClient?
    let startedAt: Int
    let drain: Drain
    static let version = "0.1.0"

    func register(
        on router: Router<SluiceRequestContext>, chat: GatewayHandler<ChatCompletionsAPI>, messages: GatewayHandler<MessagesAPI>,
        countTokens: MessagesTokenCounter, gemini: GatewayHandler<GeminiAPI>, embeddings: GatewayHandler<EmbeddingsAPI>,
        responses: GatewayHandler<ResponsesAPI>
    ) {
        router.post("/v1/responses") { request, context in try await responses.handle(request, context: context) }
        router.post("/v1/embeddings") { request, context in try await embeddings.handle(request, context: context) }
        router.post("/v1/chat/completions") { request, context in try await chat.handle(request, context: context) }
        router.post("/v1/messages") { request, context in try await messages.handle(request, context: context) }
        router.post("/v1/messages/count_tokens") { request, context in await countTokens.handle(request, context: context) }
        router.post("/v1beta/models/{action}") { request, context in try await gemini.handle(request, context: context) }
        router.get("/v1beta/models") { request, context in await geminiModels(request, context: context) }
        router.get("/v1/models") { request, _ in try await listModels(request) }
        router.get("/v1/models/{id}") { request, context in try await model(request, id: context.parameters.get("id") ?? "") }
        router.get("/health") { _, _ in await health() }
        // Liveness: the process answers, until it exits. Readiness: it takes new work — not while
        // it drains, nor while a dependency is down.
        router.get("/health/live") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"live"}"#)))
        }
        router.get("/health/ready") { _, _ in
            if drain.draining {
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"status":"draining"}"#)))
            }
            return await health()
        }
    }

    func visibleModels(for key: APIKeyRecord) -> [ModelObject] {
        pool.servedModels()
            .filter { key.limits.allowedModels?.contains($0.model) ?? true }
            .map { ModelObject(id: $0.model, created: startedAt, ownedBy: $0.provider) }
    }

    /// `GET /v1beta/models`, in Gemini's shape, for the `google-genai` SDKs.
    func geminiModels(_ request: Request, context: SluiceRequestContext) async -> Response {
        struct GeminiModel: Encodable {
            var name: String
            var displayName: String
            var inputTokenLimit: Int
            var outputTokenLimit: Int
            var supportedGenerationMethods: [String]
        }
        struct GeminiModels: Encodable { var models: [GeminiModel] }
        do {
            let key = try await authenticator.authenticate(authorization: GeminiAPI().authorization(request))
            let models = visibleModels(for: key).compactMap { model in
                pool.modelLimits(model.id).map {
                    GeminiModel(
                        name: "models/" + model.id, displayName: model.id, inputTokenLimit: $0.contextWindow, outputTokenLimit: $0.maxOutputTokens,
                        supportedGenerationMethods: $0.kind == .embedding ? ["embedContent"] : ["generateContent", "streamGenerateContent"])
                }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(GeminiModels(models: models)))))
        } catch {
            return GeminiAPI().googleError(GatewayError.from(error, logger: context.logger))
        }
    }

    func listModels(_ request: Request) async throws -> Response {
        let key = try await authenticator.authenticate(authorization: request.headers[.authorization])
        return try json(ModelList(data: visibleModels(for: key)))
    }

    func model(_ request: Request, id: String) async throws -> Response {
        let key = try await authenticator.authenticate(authorization: request.headers[.authorization])
        guard let model = visibleModels(for: key).first(where: { $0.id == id }) else { throw GatewayError.modelNotFound(id) }
        return try json(model)
    }

    /// 200 when every dependency answers; else 503 `degraded`, naming the one that does not.
    func health() async -> Response {
        let storeOK = (try? await store.ping()) != nil
        var redisOK = true
        if let redis { redisOK = (try? await redis.ping()) != nil }
        let healthy = storeOK && redisOK
        var body = #"{"status":"\#(healthy ? "ok" : "degraded")","version":"\#(Self.version)","store":"\#(storeOK ? "ok" : "unreachable")""#
        if redis != nil { body += #","redis":"\#(redisOK ? "ok" : "unreachable")""# }
        body += "}"
        return Response(
            status: healthy ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}
