import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// A service's debits follow the gateway's money rules: never past the balance, once per key.
@Suite struct MeteringMoneyTests {
    @Test func aServiceAndTheGatewayTogetherNeverSpendMoreThanTheBalance() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let admin = try await h.signInAdmin()
            let service = try await MeteringAPITests.token(h, admin: admin)
            // A gateway request holds about 0.002 credits (1,000 output tokens at 2 USD per million)
            // and is charged less; a consume takes 0.002. The balance covers 20 holds in all.
            let unit = Credits(micros: 2_000)
            let balance = Credits(micros: unit.micros * 20)
            let user = try await h.user(credits: balance)
            let statuses = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                for i in 0..<50 {
                    group.addTask { ("gateway", try await h.chat(user.key).status) }
                    group.addTask {
                        let reply = try await h.request(
                            "/api/v1/users/\(user.id)/credits/consume", body: #"{"amount":"0.002","request_id":"c\#(i)"}"#, key: service.token)
                        return ("service", reply.status)
                    }
                }
                return try await group.reduce(into: [(String, Int)]()) { $0.append($1) }
            }
            await h.settled()
            let unexpected = statuses.filter { ![200, 402, 429].contains($0.1) }
            #expect(unexpected.isEmpty, "\(unexpected)")
            let consumed = statuses.filter { $0.0 == "service" && $0.1 == 200 }.count
            // The balance ran out with both still debiting: each side was refused some.
            #expect(statuses.contains { $0 == ("service", 402) } && statuses.contains { $0 == ("gateway", 429) })

            let after = try #require(try await h.gateway.store.balance(userID: user.id))
            #expect(after >= .zero)
            let ledger = try await h.gateway.store.ledger(userID: user.id)
            #expect(ledger.reduce(Credits.zero) { $0 + $1.amount } == after, "the ledger balances")
            let debited = ledger.filter { $0.kind == .consume }.reduce(Credits.zero) { $0 - $1.amount }
            #expect(debited <= balance)
            #expect(ledger.filter { $0.kind == .consume && $0.referenceID.hasPrefix("svc:") }.count == consumed)
            #expect(await h.gateway.credits.outstandingHolds == 0)
        }
    }

    @Test func theSameConsumeAndUsageEventCountOnceEvenConcurrently() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let service = try await MeteringAPITests.token(h, admin: admin)
            let user = try await h.user(credits: Credits(whole: 10))
            let consume = "/api/v1/users/\(user.id)/credits/consume"
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await h.request(consume, body: #"{"amount":2}"#, key: service.token, headers: [("Idempotency-Key", "once")]).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 409 }, "\(statuses)")
            let replay = try await h.request(consume, body: #"{"amount":2}"#, key: service.token, headers: [("Idempotency-Key", "once")])
            #expect(replay.status == 200)
            #expect(replay.json?["remaining_credits"] as? Double == 8)
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 8))
            // The same key with another amount is a mistake, not a second debit.
            let other = try await h.request(consume, body: #"{"amount":3}"#, key: service.token, headers: [("Idempotency-Key", "once")])
            #expect(other.status == 422)
            // Too much: a 402 that says the balance, and nothing is taken.
            let tooMuch = try await h.request(consume, body: #"{"amount":9}"#, key: service.token)
            #expect(tooMuch.status == 402)
            #expect(tooMuch.errorCode == "insufficient_credits")
            #expect((tooMuch.error?["message"] as? String)?.contains("8") == true, "\(tooMuch.text)")
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 8))

            // Another service with the same key is another debit: keys are the service's own.
            let second = try await MeteringAPITests.token(h, admin: admin)
            #expect(try await h.request(consume, body: #"{"amount":2}"#, key: second.token, headers: [("Idempotency-Key", "once")]).status == 200)
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 6))

            let usage = "/api/v1/users/\(user.id)/usage"
            let event = #"{"event_type":"x","credits_charged":1,"request_id":"evt-1"}"#
            let created = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await h.request(usage, body: event, key: service.token).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(created.filter { $0 == 201 }.count == 1, "\(created)")
            #expect(created.filter { $0 == 200 }.count == 9)
            #expect(try await h.gateway.store.usageEvents(UsageEventQuery(userID: user.id)).count == 1)

            // Recharges are once per reference_id.
            let recharge = "/api/v1/users/\(user.id)/credits/recharge"
            for _ in 0..<3 { #expect(try await h.request(recharge, body: #"{"amount":5,"reference_id":"pay-1"}"#, key: service.token).status == 200) }
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 11))
            #expect(try await h.request(recharge, body: #"{"amount":6,"reference_id":"pay-1"}"#, key: service.token).status == 422)
        }
    }

    @Test func aBatchRecordsEachEventOnceWithAResultForEach() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let service = try await MeteringAPITests.token(h, admin: admin)
            let user = try await MeteringAPITests.ensure(h, token: service.token)
            var records = (0..<1000).map { #"{"user_id":"\#(user.external)","event_type":"step","credits_charged":"0.5","request_id":"b\#($0)"}"# }
            records[3] = #"{"user_id":"auth0|nobody","event_type":"step","credits_charged":1}"#
            records[7] = #"{"user_id":"\#(user.external)","event_type":"step"}"#
            let body = #"{"records":[\#(records.joined(separator: ","))]}"#
            let reply = try await h.request("/api/v1/usage/batch", body: body, key: service.token, timeout: .seconds(180))
            #expect(reply.status == 200, "\(reply.text)")
            let results = reply.list
            #expect(results.count == 1000)
            #expect(results[3]["success"] as? Bool == false)
            #expect(results[7]["success"] as? Bool == false)
            #expect(results.filter { $0["created"] as? Bool == true }.count == 998)
            // Sent again: nothing new.
            let again = try await h.request("/api/v1/usage/batch", body: body, key: service.token, timeout: .seconds(180))
            #expect(again.list.filter { $0["created"] as? Bool == true }.isEmpty)
            let stats = try await h.gateway.store.usageEventStats(UsageEventQuery(userID: user.id))
            #expect(stats.totalRecords == 998)
            #expect(stats.totalCredits == Credits(whole: 499))
            // Past 1,000 is refused whole.
            let tooMany = #"{"records":[\#(Array(repeating: records[0], count: 1001).joined(separator: ","))]}"#
            #expect(try await h.request("/api/v1/usage/batch", body: tooMany, key: service.token).status == 400)
        }
    }
}
