import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// Sluice's MCP server, driven by the official Python `mcp` client (Tests/conformance/mcp_client.py)
/// over Streamable HTTP (`/mcp`) and over stdio (`sluice mcp`, bridged to the same gateway).
@Suite struct MCPTests {
    static let script = Harness.repoRoot.appendingPathComponent("Tests/conformance/mcp_client.py")
    static let tools = ["user_ensure_exists", "user_get_info", "credits_balance", "credits_consume", "usage_record", "usage_stats", "service_status"]

    struct Outcome: Decodable {
        struct Listed: Decodable {
            var name: String
            var inputSchema: [String: JSONAny]
            enum CodingKeys: String, CodingKey { case name, inputSchema = "input_schema" }
        }
        struct Call: Decodable {
            var isError: Bool
            var text: String
            enum CodingKeys: String, CodingKey { case isError = "is_error", text }
            var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] }
        }
        var tools: [Listed]
        var calls: [Call]
    }

    /// Any JSON value, for schemas read without a type of their own.
    struct JSONAny: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    /// Runs the client with `calls` and `token`; `mode` is `["http", url]` or `["stdio", sluice, url]`.
    static func drive(_ mode: [String], token: String, calls: [[String: Any]]) async throws -> Outcome {
        let input = NSTemporaryDirectory() + "mcp-calls-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: calls).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: input) }
        var environment = ProcessInfo.processInfo.environment
        environment["SLUICE_MCP_TOKEN"] = token
        let errors = NSTemporaryDirectory() + "mcp-client-\(UUID().uuidString).err"
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let (status, output) = try await runPythonClient(script, arguments: mode, environment: environment, input: input, errors: errors)
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        try #require(status == 0, "mcp_client.py \(mode[0]) exited \(status): \(stderr.suffix(3000))")
        return try JSONDecoder().decode(Outcome.self, from: Data(output.utf8))
    }

    @Test func everyToolIsListedAndCalledOverHTTPAndStdioUnderTheRoutesRules() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let token = try await MeteringAPITests.token(h, admin: admin).token
            let user = try await h.user()
            let id = "\(user.id)"
            /// Every tool once, the consume twice with one key (a retried agent: taken once), then
            /// refusals as the routes refuse: past the balance, an unknown user, an unknown argument.
            func calls(_ run: String) -> [[String: Any]] {
                [
                    ["tool": "service_status"],
                    ["tool": "user_ensure_exists", "arguments": ["user_id": "mcp|\(run)", "email": "\(run)@mcp.test", "name": "Agent"]],
                    ["tool": "user_get_info", "arguments": ["user_id": id]],
                    ["tool": "credits_balance", "arguments": ["user_id": user.id]],
                    ["tool": "credits_consume", "arguments": ["user_id": id, "amount": "1.5", "reason": "render", "idempotency_key": "job-\(run)"]],
                    ["tool": "credits_consume", "arguments": ["user_id": id, "amount": "1.5", "reason": "render", "idempotency_key": "job-\(run)"]],
                    [
                        "tool": "usage_record",
                        "arguments": [
                            "user_id": id, "event_type": "image", "model_name": "painter", "prompt_tokens": 3, "completion_tokens": 4,
                            "credits_charged": "0.25", "idempotency_key": "ev-\(run)",
                        ],
                    ],
                    ["tool": "usage_stats", "arguments": ["user_id": id, "event_type": "image"]],
                    ["tool": "credits_consume", "arguments": ["user_id": id, "amount": "1000"]],
                    ["tool": "user_get_info", "arguments": ["user_id": "nobody-\(run)"]],
                    ["tool": "credits_balance", "arguments": ["user_id": id, "bogus": 1]],
                ]
            }
            /// What both transports must answer, `balance` being the balance before the run.
            func check(_ outcome: Outcome, run: String, balance: Double) throws {
                #expect(outcome.tools.map(\.name) == Self.tools)
                #expect(outcome.tools.allSatisfy { $0.inputSchema["type"] != nil && $0.inputSchema["properties"] != nil })
                let results = outcome.calls
                try #require(results.count == 11)
                #expect(results[0].json?["status"] as? String == "ok", "\(results[0].text)")
                #expect(((results[1].json?["data"] as? [String: Any])?["external_id"] as? String) == "mcp|\(run)")
                #expect(((results[2].json?["data"] as? [String: Any])?["email"] as? String)?.isEmpty == false)
                #expect(results[3].json?["data"] as? Double == balance)
                #expect(results[4].json?["remaining_credits"] as? Double == balance - 1.5 && !results[4].isError)
                #expect(results[5].json?["remaining_credits"] as? Double == balance - 1.5 && !results[5].isError)
                #expect(!results[6].isError && ((results[6].json?["data"] as? [String: Any])?["event_type"] as? String) == "image", "\(results[6].text)")
                #expect(!results[7].isError && results[7].text.contains("image"), "\(results[7].text)")
                #expect(results[8].isError && results[8].text.contains("insufficient"), "\(results[8].text)")
                #expect(results[9].isError && results[9].text.contains("No user"), "\(results[9].text)")
                #expect(results[10].isError && results[10].text.contains("bogus"))
            }
            try check(try await Self.drive(["http", h.baseURL + "/mcp"], token: token, calls: calls("http")), run: "http", balance: 10)
            // Over stdio, through `sluice mcp` bridged to the same gateway: the same tools and rules.
            try check(
                try await Self.drive(["stdio", GatewayProcess.executable.path, h.baseURL], token: token, calls: calls("stdio")), run: "stdio",
                balance: 8.5)

            // The ledger holds the two debits as service consumes, like any metering debit.
            await h.settled()
            let consumed = try await h.gateway.store.ledger(userID: user.id).filter { $0.kind == .consume }
            #expect(consumed.map(\.amount) == [Credits(micros: -1_500_000), Credits(micros: -1_500_000)])
            #expect(consumed.allSatisfy { $0.referenceID.hasPrefix("svc:") })
            #expect(try await h.gateway.store.user(id: user.id)?.balance == Credits(whole: 7))
        }
    }

    @Test func aUsersKeyReadsItsOwnUserAndMovesNothing() async throws {
        try await Harness.run { h in
            let user = try await h.user()
            let other = try await h.user()
            let outcome = try await Self.drive(
                ["http", h.baseURL + "/mcp"], token: user.key,
                calls: [
                    ["tool": "credits_balance", "arguments": ["user_id": "\(user.id)"]],
                    ["tool": "credits_balance", "arguments": ["user_id": "\(other.id)"]],
                    ["tool": "credits_consume", "arguments": ["user_id": "\(user.id)", "amount": "1"]],
                    ["tool": "user_ensure_exists", "arguments": ["user_id": "x-1", "email": "x1@mcp.test"]],
                ])
            #expect(outcome.tools.map(\.name) == Self.tools)
            #expect(!outcome.calls[0].isError && outcome.calls[0].json?["data"] as? Double == 10)
            #expect(outcome.calls[1].isError && outcome.calls[1].text.contains("No user"))
            #expect(outcome.calls[2].isError && outcome.calls[2].text.contains("insufficient_scope"))
            #expect(outcome.calls[3].isError && outcome.calls[3].text.contains("insufficient_scope"))
            #expect(try await h.gateway.store.user(id: user.id)?.balance == Credits(whole: 10))
        }
    }

    @Test func theEndpointRefusesAnUnknownCredentialAndOtherMethods() async throws {
        try await Harness.run { h in
            let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
            let accept = [("accept", "application/json, text/event-stream")]
            let anonymous = try await h.request("/mcp", body: initialize, key: nil, headers: accept)
            #expect(anonymous.status == 401 && anonymous.errorCode == "invalid_service_token")
            #expect(try await h.request("/mcp", body: initialize, key: "sst-nope", headers: accept).status == 401)
            let user = try await h.user()
            let answered = try await h.request("/mcp", body: initialize, key: user.key, headers: accept)
            #expect(answered.status == 200)
            #expect(((answered.json?["result"] as? [String: Any])?["serverInfo"] as? [String: Any])?["name"] as? String == "sluice")
            let get = try await h.request("/mcp", method: .GET, key: user.key)
            #expect(get.status == 405 && get.headers.first(name: "allow") == "POST")
            // Not JSON-RPC at all: the transport's own JSON-RPC error, not a crash.
            let garbage = try await h.request("/mcp", body: "{not json", key: user.key, headers: accept)
            #expect(garbage.status >= 400 && garbage.status < 500)
        }
    }
}
