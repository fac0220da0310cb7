import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// Outbound webhooks: written with what they report, signed, retried, ordered, and never in a
/// request's way.
@Suite struct WebhookTests {
    static let secret = "whsec_test_receiver_secret"

    /// Quick passes and retries, so a test sees several attempts in well under a second.
    static func quick(_ config: inout SluiceConfig) {
        config.webhooks.pollMillis = 20
        config.webhooks.retryBaseMillis = 20
    }

    static func register(_ h: Harness, admin: Harness.Session, url: String, types: [String]) async throws -> Int {
        let list = types.map { "\"\($0)\"" }.joined(separator: ",")
        let reply = try await h.api(
            "/api/admin/webhooks", method: .POST, body: #"{"url":"\#(url)","event_types":[\#(list)],"secret":"\#(secret)"}"#, as: admin)
        try #require(reply.status == 201, "\(reply.text)")
        return try #require(reply.json?["id"] as? Int)
    }

    @Test func aReceiverThatFailsThreeTimesGetsTheEventOnTheFourthSigned() async throws {
        try await WebhookReceiver.run { receiver in
            try await Harness.run(configure: Self.quick) { h in
                let admin = try await h.signInAdmin()
                let endpoint = try await Self.register(h, admin: admin, url: receiver.url, types: ["key.created", "key.revoked"])
                receiver.fail(next: 3)
                let user = try await h.signUp()
                let created = try await h.api("/api/api-keys", method: .POST, body: #"{"name":"ci"}"#, as: user)
                let keyID = try #require(created.json?["id"] as? Int)
                try await eventually("the event arrived") { receiver.accepted.count == 1 }
                #expect(receiver.attempts == 4)
                let delivery = try #require(receiver.accepted.first)
                #expect(delivery.event == "key.created")
                #expect(WebhookReceiver.isSigned(delivery, secret: Self.secret))
                #expect(!WebhookReceiver.isSigned(delivery, secret: "whsec_someone_else"))
                #expect(delivery.json["type"] as? String == "key.created")
                #expect(delivery.data["key_id"] as? Int == keyID)
                #expect((delivery.data["user_id"] as? NSNumber)?.int64Value == user.userID)

                let log = try await h.api("/api/admin/webhooks/\(endpoint)/deliveries", as: admin)
                #expect(log.list.first?["status"] as? String == "delivered")
                #expect(log.list.first?["attempts"] as? Int == 4)
                #expect(log.list.first?["last_status"] as? Int == 200)

                // Revoked next: it comes after, in order. Then a manual replay sends it again.
                #expect(try await h.api("/api/api-keys/\(keyID)", method: .DELETE, as: user).status == 204)
                try await eventually("the revocation arrived") { receiver.accepted.count == 2 }
                #expect(receiver.accepted.map(\.event) == ["key.created", "key.revoked"])
                let revoked = try #require(try await h.api("/api/admin/webhooks/\(endpoint)/deliveries", as: admin).list.first?["id"] as? Int)
                #expect(try await h.api("/api/admin/webhook-deliveries/\(revoked)/replay", method: .POST, as: admin).status == 204)
                try await eventually("the replay arrived") { receiver.accepted.count == 3 }
                #expect(receiver.accepted.last?.event == "key.revoked")
            }
        }
    }

    @Test func consumptionIsSummedPerUserAndBalanceLowFiresOncePerCrossing() async throws {
        try await WebhookReceiver.run { receiver in
            try await Harness.run(configure: Self.quick) { h in
                try await h.account(secret: "up")
                let admin = try await h.signInAdmin()
                _ = try await Self.register(h, admin: admin, url: receiver.url, types: ["credit.consumed", "balance.low"])
                let service = try await MeteringAPITests.token(h, admin: admin)
                let user = try await h.user(credits: Credits(whole: 10))
                #expect(try await h.api(
                    "/api/admin/users/\(user.id)", method: .PATCH, body: #"{"low_balance_threshold":"5"}"#, as: admin).status == 200)
                let consume = "/api/v1/users/\(user.id)/credits/consume"
                for _ in 0..<3 { #expect(try await h.request(consume, body: #"{"amount":3}"#, key: service.token).status == 200) }
                // 10 → 7 → 4 → 1: one crossing of 5.
                try await eventually("the low balance arrived") { receiver.accepted.contains { $0.event == "balance.low" } }
                try await eventually("every consume arrived") {
                    receiver.accepted.filter { $0.event == "credit.consumed" }.reduce(0) { $0 + (($1.data["requests"] as? Int) ?? 0) } == 3
                }
                let lows = receiver.accepted.filter { $0.event == "balance.low" }
                #expect(lows.count == 1)
                #expect(lows.first?.data["balance"] as? Double == 4)
                #expect(lows.first?.data["threshold"] as? Double == 5)
                let consumed = receiver.accepted.filter { $0.event == "credit.consumed" }
                #expect(consumed.reduce(0) { $0 + (($1.data["amount"] as? Double) ?? 0) } == 9)
                #expect(consumed.last?.data["balance_after"] as? Double == 1)

                // Back above the line, then below again: a second crossing, a second event.
                _ = try await h.request("/api/v1/users/\(user.id)/credits/recharge", body: #"{"amount":9}"#, key: service.token)
                #expect(try await h.request(consume, body: #"{"amount":6}"#, key: service.token).status == 200)
                try await eventually("the second crossing arrived") { receiver.accepted.filter { $0.event == "balance.low" }.count == 2 }

                // The gateway's requests are summed per user and settlement window, with the balance after.
                let before = receiver.accepted.count
                let chatter = try await h.user()
                for _ in 0..<5 { #expect(try await h.chat(chatter.key).status == 200) }
                await h.settled()
                try await eventually("the gateway's consumption arrived") {
                    receiver.accepted.dropFirst(before).filter { ($0.data["user_id"] as? NSNumber)?.int64Value == chatter.id }
                        .reduce(0) { $0 + (($1.data["requests"] as? Int) ?? 0) } == 5
                }
                let charged = try await h.gateway.store.usageLogs(userID: chatter.id).reduce(Credits.zero) { $0 + $1.charged }
                let reported = receiver.accepted.dropFirst(before).filter { ($0.data["user_id"] as? NSNumber)?.int64Value == chatter.id }
                    .map { Decimal(string: "\($0.data["amount"] ?? 0)") ?? 0 }.reduce(0, +)
                #expect(reported == Decimal(string: charged.description))
            }
        }
    }

    @Test func nothingIsWrittenWithoutAnEndpointAndAHangingReceiverDelaysNoSettlement() async throws {
        try await WebhookReceiver.run { receiver in
            try await Harness.run(configure: { Self.quick(&$0); $0.webhooks.timeoutSeconds = 30 }) { h in
                try await h.account(secret: "up")
                let user = try await h.user()
                #expect(try await h.chat(user.key).status == 200)
                await h.settled()
                #expect(try await h.gateway.store.pendingWebhookEvents(limit: 10).isEmpty, "no endpoint wants it, so no row")

                let admin = try await h.signInAdmin()
                _ = try await Self.register(h, admin: admin, url: receiver.url, types: ["credit.consumed"])
                receiver.hang(true)
                #expect(try await h.chat(user.key).status == 200)
                try await eventually("a delivery is hanging") { receiver.attempts >= 1 }
                // The receiver holds its connection; requests go on and settle all the same.
                for _ in 0..<10 { #expect(try await h.chat(user.key).status == 200) }
                await h.settled()
                #expect(try await h.gateway.store.usageLogs(userID: user.id).count == 12)
                #expect(receiver.accepted.isEmpty)
                receiver.hang(false)
                try await eventually("the held events arrived once the receiver answered", within: 20) {
                    receiver.accepted.reduce(0) { $0 + (($1.data["requests"] as? Int) ?? 0) } == 11
                }
            }
        }
    }

    @Test func eventsWaitingForADownReceiverSurviveARestart() async throws {
        let directory = NSTemporaryDirectory() + "sluice-webhooks-\(UUID().uuidString)"
        let key = SecretBox.generateKeyBase64()
        let configure: (inout SluiceConfig) -> Void = { config in
            Self.quick(&config)
            config.security.encryptionKey = key
            // Retries double while the receiver is down; on a loaded machine the first gateway's
            // shutdown lasts long enough for the next one to fall past the wait below. Capped, the
            // event is due within a second of the restart.
            config.webhooks.retryMaxSeconds = 1
        }
        try await WebhookReceiver.run { receiver in
            receiver.fail(next: 1_000_000)
            var userID: Int64 = 0
            try await Harness.run(configure: configure, directory: directory) { h in
                let admin = try await h.signInAdmin()
                _ = try await Self.register(h, admin: admin, url: receiver.url, types: ["key.created"])
                let user = try await h.signUp()
                userID = user.userID
                #expect(try await h.api("/api/api-keys", method: .POST, body: "{}", as: user).status == 201)
                try await eventually("the receiver refused it") { receiver.attempts >= 2 }
            }
            receiver.fail(next: 0)
            try await Harness.run(configure: configure, directory: directory) { _ in
                try await eventually("the event arrived after the restart") { receiver.accepted.count == 1 }
                #expect((receiver.accepted.first?.data["user_id"] as? NSNumber)?.int64Value == userID)
            }
        }
    }
}
