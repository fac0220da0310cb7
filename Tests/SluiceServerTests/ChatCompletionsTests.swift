import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import Testing

@Suite struct ChatCompletionsTests {
    @Test func plainCompletionComesBackAsJSONAndConforms() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-a")
            let user = try await h.user()
            let reply = try await h.chat(user.key)
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "content-type") == "application/json")
            #expect(reply.headers.first(name: "x-request-id")?.hasPrefix("req_") == true)
            #expect((reply.json?["choices"] as? [[String: Any]])?.first?["message"] != nil)
            try await OpenAISchema.expectValid([("CreateChatCompletionResponse", reply.body)])
        }
    }

    @Test func streamEndsWithDoneAndHidesUsageUnlessAsked() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-a")
            let user = try await h.user()
            let (response, events) = try await h.streamEvents(user.key)
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().map { Data($0.utf8) }
            #expect(chunks.count >= 10)
            for chunk in chunks {
                let object = try #require(try JSONSerialization.jsonObject(with: chunk) as? [String: Any])
                #expect((object["choices"] as? [Any])?.isEmpty == false, "a client that did not ask saw an empty-choices chunk")
            }
            try await OpenAISchema.expectValid(chunks.map { ("CreateChatCompletionStreamResponse", $0) })
            // The upstream was asked for usage all the same.
            let sent = try #require(h.control.requests.last)
            let upstreamBody = try #require(try JSONSerialization.jsonObject(with: sent.body) as? [String: Any])
            #expect((upstreamBody["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        }
    }

    @Test func aStreamThatArrivesInOneReadLosesNoChunk() async throws {
        try await Harness.run { h in
            try await h.account(secret: "burst")
            h.control.set(.burst, for: "burst")
            let user = try await h.user()
            let (_, events) = try await h.streamEvents(user.key)
            #expect(events.last == "[DONE]")
            let content = try events.dropLast().map { chunk -> String in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(chunk.utf8)) as? [String: Any])
                let delta = (object["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
                return delta?["content"] as? String ?? ""
            }
            #expect(content.joined() == MockUpstream.reply, "every chunk after the first output reached the client")
        }
    }

    @Test func usageChunkReachesAClientThatAsked() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-a")
            let user = try await h.user()
            let (_, events) = try await h.streamEvents(user.key, extra: #","stream_options":{"include_usage":true}"#)
            #expect(events.last == "[DONE]")
            let usageChunk = try #require(events.dropLast().last)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(usageChunk.utf8)) as? [String: Any])
            #expect((object["choices"] as? [Any])?.isEmpty == true)
            #expect((object["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 12)
            try await OpenAISchema.expectValid([("CreateChatCompletionStreamResponse", Data(usageChunk.utf8))])
        }
    }

    @Test func fieldsTheGatewayDoesNotInterpretPassThroughUnchanged() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-a")
            let user = try await h.user()
            let extra = #","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"tool_choice":"auto","response_format":{"type":"json_object"},"seed":42,"logprobs":true,"x_vendor_field":{"nested":[1,2.5,"ü"]}"#
            let body = Harness.chatBody(stream: false, extra: extra)
            let reply = try await h.request("/v1/chat/completions", body: body, key: user.key)
            #expect(reply.status == 200)
            // A plain request goes upstream byte for byte.
            #expect(h.control.requests.last?.body == Data(body.utf8))
        }
    }

    @Test func toolCallDeltasStreamThroughIntact() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-tools")
            h.control.set(.toolCall, for: "up-tools")
            let user = try await h.user()
            let (_, events) = try await h.streamEvents(user.key)
            let deltas = try events.dropLast().compactMap { event -> String? in
                let object = try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any]
                let delta = ((object?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])
                guard delta?["tool_calls"] != nil else { return nil }
                return String(decoding: try JSONSerialization.data(withJSONObject: delta!, options: .sortedKeys), as: UTF8.self)
            }
            let expected = try MockUpstream.toolCallDeltas.map { raw in
                String(decoding: try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(raw.utf8)), options: .sortedKeys), as: UTF8.self)
            }
            #expect(deltas == expected)
            #expect(events.last == "[DONE]")
            // Every chunk is relayed as the upstream wrote it.
            #expect(events.contains { $0.contains(#""finish_reason":"tool_calls""#) })
        }
    }

    @Test func firstChunkArrivesBeforeTheUpstreamSendsItsLast() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-gated")
            h.control.set(.gated, for: "up-gated")
            let user = try await h.user()
            let response = try await h.openStream(user.key)
            var reader = EventReader(response)
            // The mock holds every chunk after the first content chunk until the gate opens. If the
            // gateway buffered, this read would never return (and the request would time out).
            var sawContent = false
            while let event = try await reader.next() {
                if event.contains(#""content":"Hello"#) { sawContent = true; break }
            }
            #expect(sawContent)
            h.control.releaseGate()
            let rest = try await reader.rest()
            #expect(rest.last == "[DONE]")
        }
    }

    @Test func modelsListsWhatAccountsServeAndConforms() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-a", models: [Harness.model])
            let user = try await h.user()
            let list = try await h.request("/v1/models", method: .GET, key: user.key)
            #expect(list.status == 200)
            let ids = (list.json?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(ids == [Harness.model])
            let one = try await h.request("/v1/models/\(Harness.model)", method: .GET, key: user.key)
            #expect(one.json?["owned_by"] as? String == "mock")
            let unknown = try await h.request("/v1/models/gpt-other", method: .GET, key: user.key)
            #expect(unknown.status == 404)
            #expect(unknown.error?["code"] as? String == "model_not_found")
            try await OpenAISchema.expectValid([("ListModelsResponse", list.body), ("Model", one.body), ("ErrorResponse", unknown.body)])
        }
    }

    @Test func keyRestrictedToModelsSeesOnlyThose() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up-a")
            let userID = try await h.gateway.store.createUser(email: "r@test", initialCredits: Credits(whole: 1))
            let key = try await APIKeyIssuerForTests.issue(h, userID: userID, allowed: ["gpt-other"])
            let list = try await h.request("/v1/models", method: .GET, key: key)
            #expect((list.json?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["gpt-other"])
            let refused = try await h.chat(key)
            #expect(refused.status == 404)
            #expect(refused.error?["param"] as? String == "model")
        }
    }

    @Test func healthReportsTheStore() async throws {
        try await Harness.run { h in
            let reply = try await h.request("/health", method: .GET, key: nil)
            #expect(reply.status == 200)
            #expect(reply.json?["status"] as? String == "ok")
            #expect(reply.json?["store"] as? String == "ok")
            #expect(reply.json?["version"] is String)
        }
    }
}

import SluiceServer

enum APIKeyIssuerForTests {
    static func issue(_ h: Harness, userID: Int64, allowed: [String]? = nil, expiresAt: Date? = nil) async throws -> String {
        try await APIKeyIssuer.issue(store: h.gateway.store, userID: userID, name: "t", limits: APIKeyLimits(allowedModels: allowed, expiresAt: expiresAt)).key
    }
}
