import Foundation
import Logging
import MCP
import NIOCore
import NIOHTTP1
import SluiceProviders

/// `sluice mcp`: the MCP server on standard input and output, for a client that starts it as a
/// child process. It is a bridge: each `tools/list` and `tools/call` goes to a running gateway's
/// `/mcp` with the token it was given, so the tools, their rules and the credit holds are that
/// gateway's, and a consume here cannot spend what a request there holds.
public enum MCPStdio {
    public static func serve(gatewayURL: String, token: String, logger: Logger) async throws {
        let http = UpstreamHTTPClient()
        let remote = RemoteMCP(http: http, url: gatewayURL.hasSuffix("/") ? gatewayURL + "mcp" : gatewayURL + "/mcp", token: token)
        let server = MCP.Server(
            name: "sluice", version: "1", title: "Sluice", capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in try await remote.call(ListTools.self, ListTools.Parameters()) }
        await server.withMethodHandler(CallTool.self) { parameters in try await remote.call(CallTool.self, parameters) }
        do {
            try await server.start(transport: StdioTransport(logger: logger))
            // Returns when standard input ends: the client is gone.
            await server.waitUntilCompleted()
        } catch {
            await http.shutdown()
            throw error
        }
        await server.stop()
        await http.shutdown()
    }
}

/// A gateway's `/mcp`, called one JSON-RPC request at a time.
struct RemoteMCP: Sendable {
    let http: UpstreamHTTPClient
    let url: String
    let token: String

    struct Envelope<Parameters: Encodable>: Encodable {
        var jsonrpc = "2.0"
        var id = 1
        var method: String
        var params: Parameters
    }

    struct Reply<Result: Decodable>: Decodable {
        struct Failure: Decodable {
            var code: Int
            var message: String
        }
        var result: Result?
        var error: Failure?
    }

    func call<M: MCP.Method>(_ method: M.Type, _ parameters: M.Parameters) async throws -> M.Result {
        let body = try JSONEncoder().encode(Envelope(method: M.name, params: parameters))
        let headers = HTTPHeaders([
            ("authorization", "Bearer \(token)"), ("content-type", "application/json"), ("accept", "application/json"),
        ])
        let response: UpstreamResponse
        do { response = try await http.execute(.POST, url: url, headers: headers, body: ByteBuffer(data: body), headTimeout: .seconds(60)) } catch {
            throw MCPError.internalError("The gateway at \(url) cannot be reached: \(error)")
        }
        let answer = Data(buffer: try await response.body.collect(upTo: GatewayAPIClient.maxAnswerBytes))
        guard let reply = try? JSONDecoder().decode(Reply<M.Result>.self, from: answer) else {
            // Not JSON-RPC: the gateway refused the token (its error JSON) or something else answered.
            let message = (try? JSONSerialization.jsonObject(with: answer) as? [String: Any])
                .flatMap { ($0["error"] as? [String: Any])?["message"] as? String } ?? "status \(response.status)"
            throw MCPError.internalError("The gateway refused the call: \(message)")
        }
        if let result = reply.result { return result }
        throw MCPError.serverError(code: reply.error?.code ?? -32603, message: reply.error?.message ?? "The gateway sent no result.")
    }
}
