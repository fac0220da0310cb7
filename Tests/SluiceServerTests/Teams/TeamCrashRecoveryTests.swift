import Foundation
import Logging
import SluiceCore
@testable import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// A team key's request whose instance is taken for dead is settled once, on the wallet and on
/// its member's limit alike, and the member's hold does not outlive it.
@Suite struct TeamCrashRecoveryTests {
    @Test func aLostTeamRequestSettlesTheWalletAndTheMembersLimitOnce() async throws {
        try await Harness.run { h in
            let owner = try await h.signUp()
            let teamID = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"Lost"}"#, as: owner).json?["id"] as? Int)
            let team = try #require(try await h.gateway.store.team(id: Int64(teamID)))
            _ = try await h.gateway.store.credit(userID: team.walletUserID, amount: Credits(whole: 10), kind: .grant, referenceID: "fund", note: nil)
            let member = try await h.signUp()
            _ = try await h.gateway.store.addTeamMember(teamID: team.id, userID: member.userID, role: .member, at: Date())
            let limit = Credits(whole: 1)
            #expect(
                try await h.api("/api/teams/\(teamID)/members/\(member.userID)", method: .PATCH, body: #"{"spend_limit":1}"#, as: owner).status == 200)
            let key = try #require(try await h.api("/api/teams/\(teamID)/api-keys", method: .POST, body: "{}", as: member).json?["key"] as? String)
            var reader = try await h.heldStream(key)
            await h.gateway.inFlight.pass()
            #expect(h.gateway.spendingLimits.outstandingHolds == 1)

            // Another instance, its clock past the lease, takes the running request for a dead one's.
            let jumped = InFlightJournal(
                store: h.gateway.store, writer: h.gateway.settlements, interval: .seconds(1), lease: .seconds(15),
                clock: ManualClock(Date().addingTimeInterval(3600)), logger: Logger(label: "test"))
            await jumped.pass()
            await h.settled()
            let lost = try #require(try await h.gateway.store.usageLogs(userID: team.walletUserID).first)
            #expect(lost.endReason == "instance_lost" && lost.charged > .zero)
            let membership = try #require(try await h.gateway.store.teamMember(teamID: team.id, userID: member.userID))
            #expect(membership.spent == lost.charged)
            #expect(try await h.gateway.store.memberSpendRemaining(membershipID: membership.id) == limit - lost.charged)

            // The request ends later: it was settled already, so nothing more is charged anywhere.
            h.control.releaseGate()
            _ = try await reader.rest()
            await h.settled()
            #expect(try await h.gateway.store.usageLogs(userID: team.walletUserID).count == 1)
            #expect(try await h.gateway.store.teamMember(teamID: team.id, userID: member.userID)?.spent == lost.charged)
            #expect(try await h.gateway.store.balance(userID: team.walletUserID) == Credits(whole: 10) - lost.charged)
            #expect(h.gateway.credits.outstandingHolds == 0 && h.gateway.spendingLimits.outstandingHolds == 0)
        }
    }

    /// A disabled member's team keys stop with them, though the team's wallet is in good standing.
    @Test func aDisabledMembersTeamKeysAreRefused() async throws {
        try await Harness.run(configure: { $0.auth.keyCacheTTLMillis = 0 }) { h in
            try await h.account(secret: "up")
            let owner = try await h.signUp()
            let teamID = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"Standing"}"#, as: owner).json?["id"] as? Int)
            let team = try #require(try await h.gateway.store.team(id: Int64(teamID)))
            _ = try await h.gateway.store.credit(userID: team.walletUserID, amount: Credits(whole: 10), kind: .grant, referenceID: "fund", note: nil)
            let key = try #require(try await h.api("/api/teams/\(teamID)/api-keys", method: .POST, body: "{}", as: owner).json?["key"] as? String)
            #expect(try await h.chat(key).status == 200)
            try await h.gateway.store.setUserStatus(id: owner.userID, .disabled)
            let refused = try await h.chat(key)
            #expect(refused.status == 403 && refused.errorCode == "account_disabled", "\(refused.text)")
        }
    }
}
