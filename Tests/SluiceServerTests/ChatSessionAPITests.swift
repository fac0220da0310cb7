import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import Testing

/// `/api/chat/sessions`, and the recording of `/v1/chat/completions` exchanges into them.
@Suite struct ChatSessionAPITests {
    @Test func sessionsAreKeptListedArchivedAndDeletedByTheirOwner() async throws {
        try await Harness.run { h in
            let alice = try await h.signUp()
            let created = try await h.api("/api/chat/sessions", method: .POST, body: #"{"title":" Trip ","metadata":{"topic":"travel"}}"#, as: alice)
            #expect(created.status == 201)
            let id = try #require(created.json?["id"] as? Int)
            #expect(created.json?["title"] as? String == "Trip")
            #expect((created.json?["metadata"] as? [String: Any])?["topic"] as? String == "travel")
            #expect(created.json?["status"] as? String == "active" && created.json?["message_count"] as? Int == 0)

            let message = try await h.api(
                "/api/chat/sessions/\(id)/messages", method: .POST,
                body: #"{"role":"assistant","content":"Hi","tokens":7,"cost":0.25,"metadata":{"model":"m"}}"#, as: alice)
            #expect(message.status == 201)
            #expect(message.json?["message_type"] as? String == "text" && message.json?["request_id"] is NSNull)
            _ = try await h.api("/api/chat/sessions/\(id)/messages", method: .POST, body: #"{"role":"user","content":"Yes"}"#, as: alice)
            let shown = try await h.api("/api/chat/sessions/\(id)", as: alice)
            #expect(shown.json?["message_count"] as? Int == 2 && shown.json?["total_tokens"] as? Int == 7)
            #expect(shown.text.contains(#""total_cost":0.25"#))
            let page = try await h.api("/api/chat/sessions/\(id)/messages?limit=1", as: alice)
            #expect(page.list.map { $0["content"] as? String } == ["Hi"])
            let cursor = try #require(page.json?["next_cursor"] as? Int)
            #expect(try await h.api("/api/chat/sessions/\(id)/messages?cursor=\(cursor)", as: alice).list.map { $0["content"] as? String } == ["Yes"])

            #expect(try await h.api("/api/chat/sessions/\(id)", method: .PATCH, body: #"{"status":"archived"}"#, as: alice).json?["status"] as? String == "archived")
            #expect(try await h.api("/api/chat/sessions?status=archived", as: alice).list.count == 1)
            #expect(try await h.api("/api/chat/sessions?status=active", as: alice).list.isEmpty)

            // Another user's session is one that does not exist.
            let bob = try await h.signUp()
            for (method, path, body) in [
                (NIOHTTP1.HTTPMethod.GET, "/api/chat/sessions/\(id)", nil), (.GET, "/api/chat/sessions/\(id)/messages", nil),
                (.PATCH, "/api/chat/sessions/\(id)", #"{"title":"x"}"#), (.DELETE, "/api/chat/sessions/\(id)", nil),
                (.POST, "/api/chat/sessions/\(id)/messages", #"{"role":"user","content":"x"}"#),
            ] as [(NIOHTTP1.HTTPMethod, String, String?)] {
                let reply = try await h.api(path, method: method, body: body, as: bob)
                #expect(reply.status == 404, "\(method) \(path)")
                #expect(reply.error?["message"] as? String == "No such chat session.")
            }
            #expect(try await h.api("/api/chat/sessions", as: bob).list.isEmpty)

            #expect(try await h.api("/api/chat/sessions/\(id)", method: .DELETE, as: alice).status == 204)
            #expect(try await h.api("/api/chat/sessions/\(id)", as: alice).status == 404)
            #expect(try await h.api("/api/chat/sessions/\(id)/messages", as: alice).status == 404)
        }
    }

    @Test(arguments: [
        (#"{}"#, "title"), (#"{"title":"   "}"#, "title"), (#"{"title":"t","metadata":[1]}"#, "metadata"), (#"{"title":"t","x":1}"#, "x"),
    ])
    func badSessionsNameTheField(body: String, param: String) async throws {
        try await Harness.run { h in
            let reply = try await h.api("/api/chat/sessions", method: .POST, body: body, as: try await h.signUp())
            #expect(reply.status == 400)
            #expect(reply.error?["param"] as? String == param, "\(reply.text)")
        }
    }

    @Test(arguments: [
        (#"{"content":"x"}"#, "role"), (#"{"role":"wizard","content":"x"}"#, "role"), (#"{"role":"user"}"#, "content"),
        (#"{"role":"user","content":"x","tokens":-1}"#, "tokens"), (#"{"role":"user","content":"x","cost":-2}"#, "cost"),
        (#"{"role":"user","content":"x","message_type":""}"#, "message_type"),
    ])
    func badMessagesNameTheField(body: String, param: String) async throws {
        try await Harness.run { h in
            let user = try await h.signUp()
            let id = try #require(try await h.api("/api/chat/sessions", method: .POST, body: #"{"title":"t"}"#, as: user).json?["id"] as? Int)
            let reply = try await h.api("/api/chat/sessions/\(id)/messages", method: .POST, body: body, as: user)
            #expect(reply.status == 400)
            #expect(reply.error?["param"] as? String == param, "\(reply.text)")
            #expect(try await h.api("/api/chat/sessions/\(id)", as: user).json?["message_count"] as? Int == 0)
        }
    }

    @Test func aFlaggedKeyRecordsEachExchangeOnceWholeOrStreamed() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let user = try await h.signUp()
            try await h.fund(user)
            let key = try #require(
                try await h.api("/api/api-keys", method: .POST, body: #"{"name":"rec","record_conversations":true}"#, as: user).json?["key"] as? String)
            #expect(try await h.api("/api/api-keys", as: user).list.first?["record_conversations"] as? Bool == true)
            let id = try #require(try await h.api("/api/chat/sessions", method: .POST, body: #"{"title":"t"}"#, as: user).json?["id"] as? Int)

            let body = #"{"model":"gpt-test","messages":[{"role":"system","content":"Be brief"},{"role":"user","content":"First"},"#
                + #"{"role":"assistant","content":"Earlier"},{"role":"user","content":[{"type":"text","text":"Second"},{"type":"text","text":"part"}]}]}"#
            let whole = try await h.request("/v1/chat/completions", body: body, key: key, headers: [("x-session-id", "\(id)")])
            #expect(whole.status == 200)
            let streamed = try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: true), key: key, headers: [("x-session-id", "\(id)")])
            #expect(streamed.status == 200 && streamed.text.hasSuffix("data: [DONE]\n\n"))
            await h.settled()

            try await eventually("both exchanges are recorded") {
                try await h.api("/api/chat/sessions/\(id)", as: user).json?["message_count"] as? Int == 4
            }
            await h.gateway.conversations.flush()
            let messages = try await h.api("/api/chat/sessions/\(id)/messages", as: user).list
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user", "assistant"])
            #expect(messages.map { $0["content"] as? String } == ["Second\npart", MockUpstream.reply, "Hello there", MockUpstream.reply])
            // Each message names its request; the two requests differ.
            let requestIDs = messages.compactMap { $0["request_id"] as? String }
            #expect(requestIDs.count == 4 && Set(requestIDs).count == 2)
            #expect(whole.headers.first(name: "x-request-id") == requestIDs[0])

            // The session's totals are what the two requests used and were charged.
            await h.settled()
            let usage = try await h.gateway.store.ledger(userID: user.userID).filter { $0.kind == .consume }
            let charged = usage.reduce(Credits.zero) { $0 - $1.amount }
            let session = try #require(try await h.gateway.store.chatSession(id: Int64(id), userID: user.userID))
            #expect(session.totalCost == charged && charged > .zero)
            let logs = try await h.api("/api/usage/logs", as: user).list
            #expect(session.totalTokens == logs.reduce(0) { $0 + (($1["prompt_tokens"] as? Int ?? 0) + ($1["completion_tokens"] as? Int ?? 0)) })
        }
    }

    @Test func nothingIsRecordedForAnUnflaggedKeyOrAnotherUsersSession() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let alice = try await h.signUp()
            let bob = try await h.signUp()
            try await h.fund(alice)
            let plainKey = try #require(try await h.api("/api/api-keys", method: .POST, body: #"{"name":"plain"}"#, as: alice).json?["key"] as? String)
            let flagged = try #require(
                try await h.api("/api/api-keys", method: .POST, body: #"{"record_conversations":true}"#, as: alice).json?["key"] as? String)
            let mine = try #require(try await h.api("/api/chat/sessions", method: .POST, body: #"{"title":"a"}"#, as: alice).json?["id"] as? Int)
            let bobs = try #require(try await h.api("/api/chat/sessions", method: .POST, body: #"{"title":"b"}"#, as: bob).json?["id"] as? Int)

            let headers = [("x-session-id", "\(mine)")]
            #expect(try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: plainKey, headers: headers).status == 200)
            // A flagged key naming a session its user does not have is served, and records nothing.
            let other = try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: flagged, headers: [("x-session-id", "\(bobs)")])
            #expect(other.status == 200)
            // A session header that is no session id is only a sticky-routing key.
            #expect(try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: flagged, headers: [("x-session-id", "conv-9")]).status == 200)
            await h.gateway.conversations.flush()

            #expect(try await h.api("/api/chat/sessions/\(mine)", as: alice).json?["message_count"] as? Int == 0)
            #expect(try await h.api("/api/chat/sessions/\(bobs)", as: bob).json?["message_count"] as? Int == 0)
        }
    }
}

import NIOHTTP1
