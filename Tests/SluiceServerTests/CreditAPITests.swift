import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct CreditAPITests {
    @Test func balanceAndTransactionsWithFiltersAndPages() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let user = try await h.signUp()
            try await h.fund(user, Credits(whole: 5))
            let key = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: user).json?["key"] as? String)
            for _ in 0..<3 { #expect(try await h.chat(key).status == 200) }
            await h.settled()

            let balance = try await h.api("/api/credits/balance", as: user)
            let stored = try #require(try await h.gateway.store.balance(userID: user.userID))
            struct Balance: Decodable { var balance: Decimal }
            #expect(try balance.decode(Balance.self).balance == Decimal(string: stored.description))

            let all = try await h.api("/api/credits/transactions", as: user)
            #expect(all.list.count == 4)
            let newest = try #require(all.list.first)
            #expect(newest["type"] as? String == "consume")
            #expect(newest["reference_id"] is String)
            struct Entry: Decodable { var amount: Decimal; var balanceBefore: Decimal; var balanceAfter: Decimal }
            struct Entries: Decodable { var data: [Entry] }
            for entry in try all.decode(Entries.self).data { #expect(entry.balanceBefore + entry.amount == entry.balanceAfter) }
            #expect(all.json?["next_cursor"] is NSNull)

            let consumes = try await h.api("/api/credits/transactions?type=consume", as: user)
            #expect(consumes.list.count == 3)
            let firstPage = try await h.api("/api/credits/transactions?limit=2", as: user)
            #expect(firstPage.list.count == 2)
            let cursor = try #require(firstPage.json?["next_cursor"] as? Int)
            let secondPage = try await h.api("/api/credits/transactions?limit=2&cursor=\(cursor)", as: user)
            let ids = (firstPage.list + secondPage.list).compactMap { $0["id"] as? Int }
            #expect(ids == all.list.compactMap { $0["id"] as? Int })
            #expect(try await h.api("/api/credits/transactions?limit=2&offset=2", as: user).list.compactMap { $0["id"] as? Int } == Array(ids[2...]))
            #expect(try await h.api("/api/credits/transactions?from=2099-01-01", as: user).list.isEmpty)
            #expect(try await h.api("/api/credits/transactions?to=2000-01-01", as: user).list.isEmpty)
            #expect(try await h.api("/api/credits/transactions?type=gift", as: user).status == 400)
            #expect(try await h.api("/api/credits/transactions?limit=0", as: user).error?["param"] as? String == "limit")
        }
    }

    @Test func adminRechargeIsIdempotentUnderAnIdempotencyKey() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let user = try await h.signUp()
            let path = "/api/admin/users/\(user.userID)/credits"
            let body = #"{"amount":"12.345678","reason":"invoice 42"}"#
            let first = try await h.api(path, method: .POST, body: body, as: admin, headers: [("Idempotency-Key", "inv-42")])
            #expect(first.status == 200)
            struct Entry: Decodable { var amount: Decimal }
            #expect(try first.decode(Entry.self).amount == Decimal(string: "12.345678"))
            let replay = try await h.api(path, method: .POST, body: body, as: admin, headers: [("Idempotency-Key", "inv-42")])
            #expect(replay.status == 200 && replay.body == first.body)
            let changed = try await h.api(
                path, method: .POST, body: #"{"amount":"99","reason":"invoice 42"}"#, as: admin, headers: [("Idempotency-Key", "inv-42")])
            #expect(changed.status == 422 && changed.errorCode == "idempotency_key_reused")
            #expect(try await h.gateway.store.balance(userID: user.userID) == Credits(micros: 12_345_678))

            // Concurrent first attempts with one key still move the balance once.
            let racers = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await h.api(path, method: .POST, body: #"{"amount":1,"reason":"race"}"#, as: admin, headers: [("Idempotency-Key", "race")]).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(racers.allSatisfy { $0 == 200 })
            #expect(try await h.gateway.store.balance(userID: user.userID) == Credits(micros: 13_345_678))

            let adjust = try await h.api(path, method: .POST, body: #"{"amount":-100,"reason":"too much","type":"adjust"}"#, as: admin)
            // Sound requests that the balance they meet cannot take: below zero, or above the most a balance holds.
            #expect(adjust.status == 409 && adjust.error?["param"] as? String == "amount")
            let tooMuch = try await h.api(path, method: .POST, body: #"{"amount":999999999999,"reason":"overflow"}"#, as: admin)
            #expect(tooMuch.status == 409 && tooMuch.error?["param"] as? String == "amount")
            #expect(try await h.gateway.store.balance(userID: user.userID) == Credits(micros: 13_345_678))
            #expect(try await h.api(path, method: .POST, body: #"{"amount":1}"#, as: admin).error?["param"] as? String == "reason")
            #expect(try await h.api(path, method: .POST, body: #"{"amount":1,"reason":"x"}"#, as: user).status == 403)
            #expect(try await h.api("/api/admin/users/999999/credits", method: .POST, body: #"{"amount":1,"reason":"x"}"#, as: admin).status == 404)
        }
    }

    @Test func aCodeIsRedeemedOncePerUserAndNeverPastItsCount() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let made = try await h.api("/api/admin/redemption-codes", method: .POST, body: #"{"value":"2.5","max_uses":3}"#, as: admin)
            #expect(made.status == 201)
            let code = try #require((made.json?["codes"] as? [String])?.first)

            var users: [Harness.Session] = []
            for _ in 0..<8 { users.append(try await h.signUp()) }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for user in users {
                    group.addTask { try await h.api("/api/credits/redeem", method: .POST, body: #"{"code":"\#(code)"}"#, as: user).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 3)
            #expect(statuses.filter { $0 == 409 }.count == 5)
            var credited = Credits.zero
            for user in users { credited = credited + (try await h.gateway.store.balance(userID: user.userID) ?? .zero) }
            #expect(credited == Credits(micros: 7_500_000))

            let single = try #require(
                (try await h.api("/api/admin/redemption-codes", method: .POST, body: #"{"value":1,"max_uses":5}"#, as: admin).json?["codes"]
                    as? [String])?.first)
            let user = try await h.signUp()
            #expect(try await h.api("/api/credits/redeem", method: .POST, body: #"{"code":"\#(single)"}"#, as: user).status == 200)
            let twice = try await h.api("/api/credits/redeem", method: .POST, body: #"{"code":"\#(single)"}"#, as: user)
            #expect(twice.status == 409)
            #expect(try await h.api("/api/credits/redeem", method: .POST, body: #"{"code":"SLC-nope"}"#, as: user).status == 404)
            let expired = try await h.api(
                "/api/admin/redemption-codes", method: .POST, body: #"{"value":1,"expires_at":"2001-01-01T00:00:00Z"}"#, as: admin)
            #expect(expired.status == 400)
        }
    }
}
