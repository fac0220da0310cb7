import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// A team's wallet follows the money rules of a user's balance: holds are atomic and settle once,
/// so concurrent requests from several members never spend more than it holds, and a member's
/// spending limit holds under the same load. Pass 2 of the suite runs this on PostgreSQL with
/// the holds in Redis.
@Suite struct TeamWalletConcurrencyTests {
    @Test func fiftyConcurrentRequestsFromThreeMembersNeverSpendMoreThanTheWallet() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let owner = try await h.signUp()
            let (first, second) = (try await h.signUp(), try await h.signUp())
            let teamID = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"Shared"}"#, as: owner).json?["id"] as? Int)
            let team = try #require(try await h.gateway.store.team(id: Int64(teamID)))
            for member in [first, second] {
                _ = try await h.gateway.store.addTeamMember(teamID: team.id, userID: member.userID, role: .member, at: Date())
            }
            func teamKey(_ member: Harness.Session) async throws -> String {
                let created = try await h.api("/api/teams/\(teamID)/api-keys", method: .POST, body: "{}", as: member)
                return try #require(created.json?["key"] as? String, "\(created.text)")
            }
            let keys = [try await teamKey(owner), try await teamKey(first), try await teamKey(second)]

            // What one request holds: its worst case, small output cap included, at the model's price.
            let extra = #","max_tokens":4"#
            let hold = Pricing(creditsPerUSD: h.config.billing.creditsPerUSD).worstCase(
                promptTokens: TokenEstimate.promptTokens(bodyBytes: Harness.chatBody(stream: false, extra: extra).utf8.count), maxOutputTokens: 4,
                at: Harness.price)
            // The wallet covers ten such requests; the second member may spend three of them.
            let wallet = Credits(micros: hold.micros * 10)
            _ = try await h.gateway.store.credit(userID: team.walletUserID, amount: wallet, kind: .grant, referenceID: "ten", note: nil)
            await h.gateway.credits.invalidate(userID: team.walletUserID)
            let limit = Credits(micros: hold.micros * 3)
            let patched = try await h.api(
                "/api/teams/\(teamID)/members/\(second.userID)", method: .PATCH, body: #"{"spend_limit":"\#(limit)"}"#, as: owner)
            #expect(patched.status == 200, "\(patched.text)")

            let results = try await withThrowingTaskGroup(of: (Int, Harness.Reply).self) { group in
                for index in 0..<50 {
                    group.addTask { (index % 3, try await h.chat(keys[index % 3], extra: extra)) }
                }
                return try await group.reduce(into: [(Int, Harness.Reply)]()) { $0.append($1) }
            }
            await h.settled()

            let statuses = results.map(\.1.status)
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            #expect(statuses.contains(200) && statuses.contains(429))
            let refusals = Set(results.compactMap { $0.1.status == 429 ? $0.1.errorCode : nil })
            #expect(refusals.isSubset(of: ["insufficient_quota", "member_spend_limit_reached"]), "\(refusals)")

            let logs = try await h.gateway.store.usageLogs(userID: team.walletUserID)
            let charged = logs.reduce(Credits.zero) { $0 + $1.charged }
            // Every request that answered was logged and charged once; none overdrew the wallet.
            #expect(logs.count == statuses.filter { $0 == 200 }.count)
            #expect(charged <= wallet)
            #expect(try await h.gateway.store.balance(userID: team.walletUserID) == wallet - charged)
            let ledger = try await h.gateway.store.ledger(userID: team.walletUserID)
            #expect(ledger.last?.balanceAfter == wallet - charged)
            #expect(ledger.reduce(Credits.zero) { $0 + $1.amount } == wallet - charged)
            #expect(ledger.filter { $0.kind == .consume }.count == logs.filter { $0.charged > .zero }.count)

            // The second member stayed within their limit, and their spend is what their keys were charged.
            let secondMember = try #require(try await h.gateway.store.teamMember(teamID: team.id, userID: second.userID))
            let secondKeyID = try #require(try await h.gateway.store.apiKeys(userID: team.walletUserID).first { $0.teamMember?.userID == second.userID }?.id)
            let secondCharged = logs.filter { $0.apiKeyID == secondKeyID }.reduce(Credits.zero) { $0 + $1.charged }
            #expect(secondCharged <= limit)
            #expect(secondMember.spent == secondCharged)
            #expect(try await h.gateway.store.memberSpendRemaining(membershipID: secondMember.id) == limit - secondCharged)
            // Nobody's personal balance paid for any of it.
            for member in [owner, first, second] { #expect(try await h.gateway.store.balance(userID: member.userID) == .zero) }
            #expect(h.gateway.credits.outstandingHolds == 0 && h.gateway.spendingLimits.outstandingHolds == 0)

            // Once spent, the member's limit refuses them while the others still draw on the wallet.
            for _ in 0..<10 where try await h.chat(keys[2], extra: extra).status == 200 {}
            let refused = try await h.chat(keys[2], extra: extra)
            #expect(refused.status == 429 && ["member_spend_limit_reached", "insufficient_quota"].contains(refused.errorCode ?? ""))
        }
    }
}
