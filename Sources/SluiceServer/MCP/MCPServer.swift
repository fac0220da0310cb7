import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceProviders
import Synchronization

/// Sends tool calls to the gateway's HTTP API: this instance's own listener for `/mcp`, or a
/// gateway's URL for `sluice mcp`. Going through the API, rather than to the store, is what keeps
/// a tool's credit consumption inside the same holds as everything else the gateway serves.
struct GatewayAPIClient: Sendable {
    let http: UpstreamHTTPClient
    /// Where the API answers, such as `http://127.0.0.1:8080`; nil until the listener is up.
    let baseURL: @Sendable () -> String?
    static let maxAnswerBytes = 4 << 20

    func run(_ call: APICall, authorization: String) async throws -> (status: Int, body: Data) {
        guard let base = baseURL() else { throw ToolRefusal("The gateway is not listening yet.") }
        var headers = HTTPHeaders([("authorization", authorization), ("accept", "application/json")])
        if call.body != nil { headers.add(name: "content-type", value: "application/json") }
        for (name, value) in call.headers { headers.add(name: name, value: value) }
        let response = try await http.execute(
            NIOHTTP1.HTTPMethod(rawValue: call.method.rawValue), url: base + call.target, headers: headers,
            body: call.body.map { ByteBuffer(data: $0) }, headTimeout: .seconds(30))
        let body = try await response.body.collect(upTo: Self.maxAnswerBytes)
        return (response.status, Data(buffer: body))
    }
}

/// The address this instance listens on, known once its listener is up.
final class ListenerAddress: Sendable {
    private let url = Mutex<String?>(nil)
    private let host: String

    /// `host` as configured; a wildcard is reached on loopback.
    init(host: String) {
        switch host {
        case "0.0.0.0", "": self.host = "127.0.0.1"
        case "::", "[::]": self.host = "[::1]"
        default: self.host = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        }
    }

    func listening(on port: Int) { url.withLock { $0 = "http://\(host):\(port)" } }
    var baseURL: String? { url.withLock { $0 } }
}

/// An MCP server whose tools are `tools`, each call run by `call`.
enum MCPServerFactory {
    static func make(tools: MCPTools, call: @escaping @Sendable (APICall) async throws -> (status: Int, body: Data)) async -> MCP.Server {
        let server = MCP.Server(
            name: "sluice", version: "1", title: "Sluice",
            instructions: "Users, credits and usage of a Sluice gateway. Name a user by Sluice id or external id.",
            capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: tools.definitions.map(\.tool)) }
        await server.withMethodHandler(CallTool.self) { parameters in
            switch tools.request(for: parameters.name, arguments: parameters.arguments ?? [:]) {
            case .failure(let refusal):
                return .init(content: [.text(text: refusal.message, annotations: nil, _meta: nil)], isError: true)
            case .success(let request):
                do {
                    let (status, body) = try await call(request)
                    let text = String(decoding: body, as: UTF8.self)
                    // The route's own answer, as text and, when it is a JSON object, as structure.
                    let structured = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]).map(MCPTools.value)
                    return .init(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: structured, isError: status >= 400)
                } catch {
                    return .init(content: [.text(text: "The gateway's API could not be reached: \(error)", annotations: nil, _meta: nil)], isError: true)
                }
            }
        }
        return server
    }
}

/// `POST /mcp`: MCP's Streamable HTTP transport, stateless (a JSON answer per request, no
/// session). Each request gets a server and transport of its own: a stateless transport matches
/// answers by JSON-RPC id, and ids of different clients collide. The caller signs in as the
/// metering API's callers do (a service token, or a user's key), and every tool call carries that
/// credential to its route.
struct MCPEndpoint: Sendable {
    let tools: MCPTools
    let api: GatewayAPIClient
    static let maxBodyBytes = 1 << 20

    /// No Origin check: every call carries a bearer credential, which a page on another origin
    /// does not have (the check defends servers that trust the network instead).
    static let validation = StandardValidationPipeline(validators: [
        OriginValidator.disabled, AcceptHeaderValidator(mode: .jsonOnly), ContentTypeValidator(), ProtocolVersionValidator(),
    ])

    @Sendable func handle(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: Self.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: Self.maxBodyBytes)
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = headers[field.name.canonicalName].map { "\($0), \(field.value)" } ?? field.value }
        let authorization = request.headers[.authorization] ?? ""
        let server = await MCPServerFactory.make(tools: tools) { call in try await api.run(call, authorization: authorization) }
        let transport = StatelessHTTPServerTransport(validationPipeline: Self.validation, logger: context.logger)
        try await server.start(transport: transport)
        let answer = await transport.handleRequest(MCP.HTTPRequest(method: "POST", headers: headers, body: Data(buffer: body), path: "/mcp"))
        await server.stop()
        var fields = HTTPFields()
        for (name, value) in answer.headers { if let name = HTTPField.Name(name) { fields[name] = value } }
        return Response(status: .init(code: answer.statusCode), headers: fields, body: answer.bodyData.map { .init(byteBuffer: ByteBuffer(data: $0)) } ?? .init())
    }
}
