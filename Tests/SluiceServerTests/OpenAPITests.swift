import Foundation
import Testing

@Suite struct OpenAPITests {
    @Test func theDocumentIsValidOpenAPI31AndCoversEveryRoute() async throws {
        try await Harness.run { h in
            let reply = try await h.request("/openapi.json", method: .GET, key: nil)
            #expect(reply.status == 200)
            let (status, problems) = try await runPython(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/validate_openapi.py"), arguments: [], input: reply.body)
            #expect(status == 0, "\(problems)")

            let document = try #require(reply.json)
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            for (path, method) in [
                ("/v1/chat/completions", "post"), ("/v1/models", "get"), ("/api/auth/login", "post"), ("/api/auth/refresh", "post"),
                ("/api/api-keys", "post"), ("/api/api-keys/{id}", "delete"), ("/api/credits/transactions", "get"),
                ("/api/admin/users/{id}/credits", "post"), ("/api/usage/stats", "get"), ("/api/subscriptions/plans", "get"),
                ("/api/admin/users/{id}", "patch"), ("/api/admin/redemption-codes", "post"),
            ] {
                #expect(paths[path]?[method] != nil, "\(method) \(path) is not described")
            }
            // Errors are listed by status, each in the route's own shape, so a client (or a fuzzer)
            // can tell an undocumented one; a catch-all `default` would hide it.
            for (path, operations) in paths {
                for (method, operation) in operations {
                    let responses = try #require((operation as? [String: Any])?["responses"] as? [String: Any], "\(method) \(path)")
                    #expect(responses["default"] == nil, "\(method) \(path) has a catch-all response")
                    let secured = ((operation as? [String: Any])?["security"] as? [[String: Any]])?.isEmpty == false
                    let unauthorized = ((responses["401"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any]
                    let shape = (unauthorized?["schema"] as? [String: String])?["$ref"]
                    let expected = path.hasPrefix("/v1/messages") ? "AnthropicError" : path.hasPrefix("/v1beta") ? "GoogleError" : "Error"
                    #expect(!secured || shape == "#/components/schemas/\(expected)", "\(method) \(path) documents its 401 as \(shape ?? "nothing")")
                }
            }
            // What the gateway itself checks of a chat request is in the document: a message's role, for one.
            let chat = try #require(paths["/v1/chat/completions"]?["post"] as? [String: Any])
            let chatSchema = try #require(
                (((chat["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"]
                    as? [String: Any])
            let message = try #require(((chatSchema["properties"] as? [String: Any])?["messages"] as? [String: Any])?["items"] as? [String: Any])
            #expect(message["required"] as? [String] == ["role", "content"])

            // Every described /api operation is served: unrouted, it would answer 404 or 405; routed,
            // an anonymous call is refused (401) or, on public routes, answered.
            for (path, operations) in paths where path.hasPrefix("/api") {
                for method in operations.keys {
                    let reply = try await h.request(
                        path.replacingOccurrences(of: "{id}", with: "1"), method: .init(rawValue: method.uppercased()), body: "{}", key: nil)
                    #expect(![404, 405].contains(reply.status), "\(method) \(path) is not routed")
                }
            }

            let docs = try await h.request("/docs", method: .GET, key: nil)
            #expect(docs.status == 200)
            #expect(docs.headers.first(name: "content-type")?.hasPrefix("text/html") == true)
            #expect(docs.text.contains("/api/auth/login") && docs.text.contains("/v1/chat/completions"))
        }
    }
}
