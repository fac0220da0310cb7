import Foundation
import GRDB
import PostgresNIO
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// Teams (a wallet, its members, invitations and team keys), the same on every store.
@Suite struct TeamContractTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }

    /// A team named Acme, owned by a new user `owner@x`, made at t0.
    func ownedTeam(_ store: any GatewayStore) async throws -> (team: TeamRecord, owner: Int64) {
        let owner = try await store.createUser(email: "owner@x", initialCredits: .zero)
        return (try await store.createTeam(name: "Acme", ownerUserID: owner, at: Self.t0), owner)
    }

    /// A new user who joins `team` with `role` `seconds` after t0.
    func member(
        _ store: any GatewayStore, _ email: String, of team: TeamRecord, role: TeamRole = .member, at seconds: TimeInterval = 5
    ) async throws -> (user: Int64, membership: TeamMemberRecord) {
        let user = try await store.createUser(email: email, initialCredits: .zero)
        return (user, try #require(try await store.addTeamMember(teamID: team.id, userID: user, role: role, at: Self.at(seconds))))
    }

    func invitation(
        _ team: TeamRecord, _ email: String, token: String, by inviter: Int64, role: TeamRole = .member, at seconds: TimeInterval = 0,
        lasting: TimeInterval = 7 * 86_400
    ) -> NewTeamInvitation {
        NewTeamInvitation(
            teamID: team.id, email: email, role: role, tokenHash: token, invitedBy: inviter, createdAt: Self.at(seconds),
            expiresAt: Self.at(seconds + lasting))
    }

    /// The `kind` of a users row, which no record carries.
    func kind(_ store: any GatewayStore, userID: Int64) async throws -> String? {
        switch store {
        case let sqlite as SQLiteStore:
            return try await sqlite.pool.read { db in try String.fetchOne(db, sql: "SELECT kind FROM users WHERE id = ?", arguments: [userID]) }
        case let postgres as PostgresStore:
            return try await postgres.first("SELECT kind FROM users WHERE id = \(userID)")?.text("kind")
        default:
            return nil
        }
    }

    // MARK: Teams and members

    @Test(arguments: StoreBackend.available)
    func aTeamHasAWalletThatIsNoPersonAndAnOwner(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            #expect(team.name == "Acme" && team.balance == .zero && team.plan == "free" && team.createdAt == Self.t0)
            #expect(try await kind(store, userID: team.walletUserID) == "team")
            #expect(try await kind(store, userID: owner) == "person")
            let wallet = try #require(try await store.user(id: team.walletUserID))
            #expect(wallet.status == .active && wallet.role == .user && wallet.balance == .zero && wallet.plan == "free")
            #expect(try await store.passwordHash(userID: team.walletUserID) == nil)
            // Listed as a team, not among the users.
            #expect(try await store.users(search: nil, page: PageRequest()).map(\.id) == [owner])
            #expect(try await store.users(search: "team-", page: PageRequest()).isEmpty)
            #expect(try await store.team(id: team.id) == team)
            let members = try await store.teamMembers(teamID: team.id)
            #expect(members.count == 1)
            let first = try #require(members.first)
            #expect(first.userID == owner && first.teamID == team.id && first.email == "owner@x" && first.role == .owner)
            #expect(first.spendLimit == nil && first.spent == .zero && first.joinedAt == Self.t0)
            let renamed = try #require(try await store.renameTeam(id: team.id, name: "Acme Ltd"))
            #expect(renamed.id == team.id && renamed.name == "Acme Ltd" && renamed.walletUserID == team.walletUserID)
            #expect(try await store.renameTeam(id: team.id + 1_000, name: "x") == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func teamsAreListedNewestFirstAndPerMemberOldestMembershipFirst(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let alice = try await store.createUser(email: "a@x", initialCredits: .zero)
            let bob = try await store.createUser(email: "b@x", initialCredits: .zero)
            let one = try await store.createTeam(name: "One", ownerUserID: alice, at: Self.t0)
            let two = try await store.createTeam(name: "Two", ownerUserID: bob, at: Self.at(1))
            #expect(try await store.addTeamMember(teamID: two.id, userID: alice, role: .member, at: Self.at(2)) != nil)
            #expect(try await store.teams(page: PageRequest()).map(\.id) == [two.id, one.id])
            #expect(try await store.teams(page: PageRequest(limit: 1)).map(\.id) == [two.id])
            #expect(try await store.teams(page: PageRequest(beforeID: two.id)).map(\.id) == [one.id])
            let memberships = try await store.teams(memberUserID: alice)
            #expect(memberships.map(\.team) == [one, two])
            #expect(memberships.map(\.member.role) == [.owner, .member])
            #expect(memberships.allSatisfy { $0.member.userID == alice && $0.member.teamID == $0.team.id })
            #expect(try await store.teams(memberUserID: bob).map(\.team.name) == ["Two"])
        }
    }

    @Test(arguments: StoreBackend.available)
    func membersAreAddedOnceAndTheirRoleAndLimitChangeButNeverTheOwners(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let (ann, added) = try await member(store, "ann@x", of: team, at: 5)
            let (ben, _) = try await member(store, "ben@x", of: team, role: .admin, at: 3)
            #expect(added.userID == ann && added.teamID == team.id && added.email == "ann@x" && added.role == .member)
            #expect(added.joinedAt == Self.at(5) && added.spendLimit == nil && added.spent == .zero)
            #expect(try await store.addTeamMember(teamID: team.id, userID: ann, role: .admin, at: Self.at(6)) == nil)
            #expect(try await store.teamMember(teamID: team.id, userID: ann) == added)
            #expect(try await store.teamMembers(teamID: team.id).map(\.userID) == [owner, ben, ann])

            let limited = try #require(
                try await store.updateTeamMember(teamID: team.id, userID: ann, role: .admin, spendLimit: .some(Credits(micros: 500))))
            #expect(limited.role == .admin && limited.spendLimit == Credits(micros: 500))
            #expect(try await store.memberSpendRemaining(membershipID: added.id) == Credits(micros: 500))
            // Nil changes nothing.
            #expect(try await store.updateTeamMember(teamID: team.id, userID: ann, role: nil, spendLimit: nil) == limited)
            let cleared = try #require(try await store.updateTeamMember(teamID: team.id, userID: ann, role: .member, spendLimit: .some(nil)))
            #expect(cleared.role == .member && cleared.spendLimit == nil)
            #expect(try await store.memberSpendRemaining(membershipID: added.id) == nil)
            #expect(try await store.memberSpendRemaining(membershipID: added.id + 1_000) == nil)

            // The owner stays owner, and no one is made owner but by a transfer.
            let ownerRow = try #require(try await store.updateTeamMember(teamID: team.id, userID: owner, role: .member, spendLimit: nil))
            #expect(ownerRow.role == .owner)
            let promoted = try #require(try await store.updateTeamMember(teamID: team.id, userID: ben, role: .owner, spendLimit: nil))
            #expect(promoted.role == .admin)
            #expect(try await store.teamMembers(teamID: team.id).filter { $0.role == .owner }.map(\.userID) == [owner])
            let outsider = try await store.createUser(email: "out@x", initialCredits: .zero)
            #expect(try await store.updateTeamMember(teamID: team.id, userID: outsider, role: .admin, spendLimit: nil) == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func ownershipMovesToAMemberAndATeamKeepsOneOwner(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let (ann, _) = try await member(store, "ann@x", of: team, at: 5)
            let (ben, _) = try await member(store, "ben@x", of: team, role: .admin, at: 3)
            let outsider = try await store.createUser(email: "out@x", initialCredits: .zero)
            #expect(try await store.transferTeamOwnership(teamID: team.id, toUserID: outsider) == false)
            #expect(try await store.transferTeamOwnership(teamID: team.id, toUserID: owner))
            #expect(try await store.transferTeamOwnership(teamID: team.id, toUserID: ann))
            let members = try await store.teamMembers(teamID: team.id)
            #expect(members.map(\.userID) == [ann, owner, ben])
            #expect(members.map(\.role) == [.owner, .admin, .admin])
            // The new owner cannot be removed; the former one can now.
            #expect(try await store.removeTeamMember(teamID: team.id, userID: ann, at: Self.at(9)) == nil)
            #expect(try await store.removeTeamMember(teamID: team.id, userID: owner, at: Self.at(9)) == [])
            #expect(try await store.teamMembers(teamID: team.id).map(\.userID) == [ann, ben])
        }
    }

    // MARK: Team keys

    @Test(arguments: StoreBackend.available)
    func aTeamKeyNamesItsMemberWithTheirStatusAndLimit(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let (ann, membership) = try await member(store, "ann@x", of: team)
            _ = try await store.updateTeamMember(teamID: team.id, userID: ann, role: nil, spendLimit: .some(Credits(micros: 300)))
            let keyID = try await store.createTeamAPIKey(
                walletUserID: team.walletUserID, membershipID: membership.id, name: "ann's", keyHash: "h1", prefix: "p1",
                limits: APIKeyLimits(spendLimit: Credits(micros: 1_000)))
            let key = try #require(try await store.apiKey(hash: "h1"))
            #expect(key.id == keyID && key.userID == team.walletUserID && key.userStatus == .active && key.name == "ann's")
            #expect(key.limits.spendLimit == Credits(micros: 1_000) && key.isUsable(at: Date()))
            #expect(key.teamMember == TeamKeyMember(membershipID: membership.id, userID: ann, status: .active, spendLimit: Credits(micros: 300)))
            // The member's status is the member's own, not the wallet's.
            try await store.setUserStatus(id: ann, .disabled)
            #expect(try await store.apiKey(hash: "h1")?.teamMember?.status == .disabled)
            #expect(try await store.apiKey(hash: "h1")?.userStatus == .active)
            #expect(try await store.apiKeys(userID: team.walletUserID).map(\.teamMember?.userID) == [ann])
            // A person's key has no member.
            _ = try await store.createAPIKey(userID: owner, name: "mine", keyHash: "h2", prefix: "p2", limits: APIKeyLimits())
            let personal = try #require(try await store.apiKey(hash: "h2"))
            #expect(personal.teamMember == nil && personal.isUsable(at: Date()))
        }
    }

    @Test(arguments: StoreBackend.available)
    func removingAMemberRevokesTheirTeamKeysOnly(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let (ann, membership) = try await member(store, "ann@x", of: team)
            let ownerMembership = try #require(try await store.teamMember(teamID: team.id, userID: owner))
            func teamKey(_ membershipID: Int64, _ hash: String) async throws -> Int64 {
                try await store.createTeamAPIKey(
                    walletUserID: team.walletUserID, membershipID: membershipID, name: hash, keyHash: hash, prefix: "p", limits: APIKeyLimits())
            }
            _ = try await teamKey(membership.id, "ann-1")
            _ = try await teamKey(membership.id, "ann-2")
            let old = try await teamKey(membership.id, "ann-old")
            #expect(try await store.revokeAPIKey(id: old, userID: nil) == "ann-old")
            let ownerKey = try await teamKey(ownerMembership.id, "owner-1")
            _ = try await store.createAPIKey(userID: ann, name: "mine", keyHash: "ann-personal", prefix: "p", limits: APIKeyLimits())

            let revoked = try #require(try await store.removeTeamMember(teamID: team.id, userID: ann, at: Self.at(60)))
            #expect(revoked.sorted() == ["ann-1", "ann-2"])
            #expect(try await store.removeTeamMember(teamID: team.id, userID: ann, at: Self.at(61)) == nil)
            #expect(try await store.teamMember(teamID: team.id, userID: ann) == nil)
            #expect(try await store.teams(memberUserID: ann).isEmpty)
            for hash in ["ann-1", "ann-2"] {
                let key = try #require(try await store.apiKey(hash: hash))
                #expect(key.revokedAt == Self.at(60) && !key.isUsable(at: Date()))
                #expect(key.teamMember?.membershipID == membership.id && key.teamMember?.status == .disabled)
            }
            #expect(try await store.apiKey(hash: "owner-1")?.isUsable(at: Date()) == true)
            #expect(try await store.apiKey(hash: "ann-personal")?.isUsable(at: Date()) == true)
            #expect(try await store.apiKeys(userID: team.walletUserID).map(\.id) == [ownerKey])

            // A key left behind by a membership that has ended (made as it ended) is no more usable.
            _ = try await teamKey(membership.id, "ann-late")
            let late = try #require(try await store.apiKey(hash: "ann-late"))
            #expect(!late.isUsable(at: Date()) && late.revokedAt != nil && late.teamMember?.status == .disabled)
        }
    }

    // MARK: Invitations

    @Test(arguments: StoreBackend.available)
    func aNewInvitationReplacesThePendingOneAndOnlyPendingOnesAreListed(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let first = try await store.createTeamInvitation(invitation(team, "Ann@X", token: "t1", by: owner))
            #expect(first.teamID == team.id && first.email == "Ann@X" && first.role == .member && first.invitedBy == owner)
            #expect(first.createdAt == Self.t0 && first.expiresAt == Self.at(7 * 86_400) && first.acceptedAt == nil)
            let second = try await store.createTeamInvitation(invitation(team, "ann@x", token: "t2", by: owner, role: .admin, at: 10))
            let bob = try await store.createTeamInvitation(invitation(team, "bob@x", token: "t3", by: owner, at: 20, lasting: 86_400))
            #expect(try await store.teamInvitations(teamID: team.id, now: Self.at(30)).map(\.id) == [bob.id, second.id])
            // Bob's has expired two days on.
            #expect(try await store.teamInvitations(teamID: team.id, now: Self.at(2 * 86_400)).map(\.id) == [second.id])
            #expect(try await store.teamInvitations(teamID: team.id + 1_000, now: Self.at(30)).isEmpty)

            // The replaced invitation's link works no more; the new one's does, once.
            let ann = try await store.createUser(email: "ann@x", initialCredits: .zero)
            #expect(try await store.acceptTeamInvitation(tokenHash: "t1", userID: ann, email: "ann@x", at: Self.at(40)) == .invalid)
            guard case .accepted(let joined) = try await store.acceptTeamInvitation(tokenHash: "t2", userID: ann, email: "ann@x", at: Self.at(41))
            else {
                Issue.record("the invitation was not accepted")
                return
            }
            #expect(joined.role == .admin && joined.userID == ann)
            #expect(try await store.teamInvitations(teamID: team.id, now: Self.at(42)).map(\.id) == [bob.id])

            // Withdrawn: by its team only, once, and its link is dead.
            #expect(try await store.revokeTeamInvitation(teamID: team.id + 1_000, id: bob.id) == false)
            #expect(try await store.revokeTeamInvitation(teamID: team.id, id: second.id) == false, "an accepted invitation is not pending")
            #expect(try await store.revokeTeamInvitation(teamID: team.id, id: bob.id))
            #expect(try await store.revokeTeamInvitation(teamID: team.id, id: bob.id) == false)
            #expect(try await store.teamInvitations(teamID: team.id, now: Self.at(42)).isEmpty)
            let bobUser = try await store.createUser(email: "bob@x", initialCredits: .zero)
            #expect(try await store.acceptTeamInvitation(tokenHash: "t3", userID: bobUser, email: "bob@x", at: Self.at(43)) == .invalid)
        }
    }

    @Test(arguments: StoreBackend.available)
    func anInvitationIsUsedOnceByItsAddressWhileItLasts(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let ann = try await store.createUser(email: "ann@x", initialCredits: .zero)
            let eve = try await store.createUser(email: "eve@x", initialCredits: .zero)
            _ = try await store.createTeamInvitation(invitation(team, "ANN@x", token: "t", by: owner, role: .admin))
            // Another address is refused, and the link stays good for the invited one.
            #expect(try await store.acceptTeamInvitation(tokenHash: "t", userID: eve, email: "eve@x", at: Self.at(1)) == .wrongAddress)
            #expect(try await store.teamMember(teamID: team.id, userID: eve) == nil)
            let result = try await store.acceptTeamInvitation(tokenHash: "t", userID: ann, email: "ann@x", at: Self.at(2))
            let joined = try #require(try await store.teamMember(teamID: team.id, userID: ann))
            #expect(result == .accepted(joined))
            #expect(joined.role == .admin && joined.joinedAt == Self.at(2) && joined.email == "ann@x")
            #expect(try await store.acceptTeamInvitation(tokenHash: "t", userID: ann, email: "ann@x", at: Self.at(3)) == .invalid)
            #expect(try await store.acceptTeamInvitation(tokenHash: "unknown", userID: ann, email: "ann@x", at: Self.at(3)) == .invalid)

            // Expired: refused from the moment it expires.
            let bob = try await store.createUser(email: "bob@x", initialCredits: .zero)
            _ = try await store.createTeamInvitation(invitation(team, "bob@x", token: "old", by: owner, lasting: 60))
            #expect(try await store.acceptTeamInvitation(tokenHash: "old", userID: bob, email: "bob@x", at: Self.at(60)) == .invalid)
            #expect(try await store.teamMember(teamID: team.id, userID: bob) == nil)

            // A member already: the invitation is used up and nothing else changes.
            _ = try await store.createTeamInvitation(invitation(team, "owner@x", token: "mine", by: owner))
            #expect(try await store.acceptTeamInvitation(tokenHash: "mine", userID: owner, email: "owner@x", at: Self.at(4))
                == .alreadyMember(teamID: team.id))
            #expect(try await store.acceptTeamInvitation(tokenHash: "mine", userID: owner, email: "owner@x", at: Self.at(5)) == .invalid)
            #expect(try await store.teamMember(teamID: team.id, userID: owner)?.role == .owner)
        }
    }

    @Test(arguments: StoreBackend.available)
    func concurrentAcceptsUseAnInvitationOnce(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let ann = try await store.createUser(email: "ann@x", initialCredits: .zero)
            _ = try await store.createTeamInvitation(invitation(team, "ann@x", token: "t", by: owner))
            let results = try await withThrowingTaskGroup(of: TeamInvitationAcceptance.self, returning: [TeamInvitationAcceptance].self) { group in
                for n in 0..<8 {
                    let at = Self.at(TimeInterval(n + 1))
                    group.addTask { try await store.acceptTeamInvitation(tokenHash: "t", userID: ann, email: "ann@x", at: at) }
                }
                var all: [TeamInvitationAcceptance] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.filter { $0 == .invalid }.count == 7)
            #expect(results.contains { result in
                if case .accepted = result { return true }
                return false
            })
            #expect(try await store.teamMembers(teamID: team.id).count == 2)
        }
    }

    // MARK: Money

    @Test(arguments: StoreBackend.available)
    func settlingATeamKeyChargesTheWalletAndCountsAgainstItsMember(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, _) = try await ownedTeam(store)
            let wallet = team.walletUserID
            _ = try await store.credit(userID: wallet, amount: Credits(micros: 10_000), kind: .grant, referenceID: "g", note: nil)
            let (ann, annMember) = try await member(store, "ann@x", of: team)
            let (_, benMember) = try await member(store, "ben@x", of: team)
            _ = try await store.updateTeamMember(teamID: team.id, userID: ann, role: nil, spendLimit: .some(Credits(micros: 1_000)))
            let annKey = try await store.createTeamAPIKey(
                walletUserID: wallet, membershipID: annMember.id, name: "a1", keyHash: "h1", prefix: "p", limits: APIKeyLimits())
            let annLimitedKey = try await store.createTeamAPIKey(
                walletUserID: wallet, membershipID: annMember.id, name: "a2", keyHash: "h2", prefix: "p",
                limits: APIKeyLimits(spendLimit: Credits(micros: 5_000)))
            let benKey = try await store.createTeamAPIKey(
                walletUserID: wallet, membershipID: benMember.id, name: "b", keyHash: "h3", prefix: "p", limits: APIKeyLimits())

            let charges = try await store.recordSettlements([
                usage("r1", user: wallet, key: annKey, charged: 100),
                usage("r2", user: wallet, key: benKey, charged: 40),
                usage("r3", user: wallet, key: annLimitedKey, charged: 250),
                usage("r4", user: wallet, key: annKey, charged: 50),
            ])
            #expect(charges.count == 4)
            #expect(try await store.balance(userID: wallet) == Credits(micros: 10_000 - 440))
            #expect(charges.last?.balanceAfter == Credits(micros: 10_000 - 440))
            // Each of Ann's charges reports her allowance after the whole batch; Ben has no limit.
            for charge in charges where charge.apiKeyID != benKey {
                #expect(charge.memberBudgetID == annMember.id && charge.memberSpendRemaining == Credits(micros: 600))
            }
            let benCharge = try #require(charges.first { $0.apiKeyID == benKey })
            #expect(benCharge.memberBudgetID == nil && benCharge.memberSpendRemaining == nil)
            #expect(charges.first { $0.apiKeyID == annLimitedKey }?.keySpendRemaining == Credits(micros: 4_750))
            #expect(charges.perBalance().members == [BalanceChange(id: annMember.id, charged: Credits(micros: 400), balanceAfter: Credits(micros: 600))])
            #expect(try await store.memberSpendRemaining(membershipID: annMember.id) == Credits(micros: 600))
            #expect(try await store.teamMember(teamID: team.id, userID: ann)?.spent == Credits(micros: 400))
            #expect(try await store.teamMembers(teamID: team.id).first { $0.id == benMember.id }?.spent == Credits(micros: 40))
            #expect(try await store.apiKey(hash: "h1")?.spent == Credits(micros: 150))
            #expect(try await store.apiKey(hash: "h2")?.spent == Credits(micros: 250))

            // A replay charges nothing again, the member included.
            #expect(try await store.recordSettlements([usage("r1", user: wallet, key: annKey, charged: 100)]).isEmpty)
            #expect(try await store.memberSpendRemaining(membershipID: annMember.id) == Credits(micros: 600))

            // A request that settles after its member left still charges the wallet and the key.
            _ = try await store.removeTeamMember(teamID: team.id, userID: ann, at: Date())
            let late = try await store.recordSettlements([usage("r5", user: wallet, key: annKey, charged: 10)])
            #expect(late.count == 1 && late.first?.memberBudgetID == nil && late.first?.memberSpendRemaining == nil)
            #expect(try await store.balance(userID: wallet) == Credits(micros: 10_000 - 450))
            #expect(try await store.apiKey(hash: "h1")?.spent == Credits(micros: 160))
        }
    }

    @Test(arguments: StoreBackend.available)
    func usageIsSummedPerCurrentMemberOverTheirTeamKeys(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let wallet = team.walletUserID
            _ = try await store.credit(userID: wallet, amount: Credits(micros: 10_000), kind: .grant, referenceID: "g", note: nil)
            let (ann, annMember) = try await member(store, "ann@x", of: team)
            let (ben, benMember) = try await member(store, "ben@x", of: team)
            let (carl, _) = try await member(store, "carl@x", of: team)
            let ownerMember = try #require(try await store.teamMember(teamID: team.id, userID: owner))
            func teamKey(_ membershipID: Int64, _ hash: String) async throws -> Int64 {
                try await store.createTeamAPIKey(
                    walletUserID: wallet, membershipID: membershipID, name: hash, keyHash: hash, prefix: "p", limits: APIKeyLimits())
            }
            let annKey = try await teamKey(annMember.id, "ha")
            let annOtherKey = try await teamKey(annMember.id, "ha2")
            let benKey = try await teamKey(benMember.id, "hb")
            let ownerKey = try await teamKey(ownerMember.id, "ho")
            // Ann's own key, on her own balance, is not the team's usage.
            _ = try await store.credit(userID: ann, amount: Credits(micros: 1_000), kind: .grant, referenceID: "ga", note: nil)
            let personal = try await store.createAPIKey(userID: ann, name: "mine", keyHash: "hp", prefix: "p", limits: APIKeyLimits())
            _ = try await store.recordSettlements([
                usage("a1", user: wallet, key: annKey, charged: 100),
                usage("a2", user: wallet, key: annOtherKey, charged: 30),
                usage("b1", user: wallet, key: benKey, charged: 300),
                usage("o1", user: wallet, key: ownerKey, charged: 0),
                usage("p1", user: ann, key: personal, charged: 500),
            ])
            let rows = try await store.teamUsageByMember(teamID: team.id)
            #expect(rows == [
                TeamMemberUsage(userID: ben, email: "ben@x", requests: 1, promptTokens: 10, completionTokens: 5, cost: Credits(micros: 300)),
                TeamMemberUsage(userID: ann, email: "ann@x", requests: 2, promptTokens: 20, completionTokens: 10, cost: Credits(micros: 130)),
                TeamMemberUsage(userID: owner, email: "owner@x", requests: 1, promptTokens: 10, completionTokens: 5, cost: .zero),
                TeamMemberUsage(userID: carl, email: "carl@x", requests: 0, promptTokens: 0, completionTokens: 0, cost: .zero),
            ])
            #expect(try await store.teamUsageByMember(teamID: team.id + 1_000).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aCheckpointCarriesTheMembersBudget(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, owner) = try await ownedTeam(store)
            let membership = try #require(try await store.teamMember(teamID: team.id, userID: owner))
            let key = try await store.createTeamAPIKey(
                walletUserID: team.walletUserID, membershipID: membership.id, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits())
            try await store.checkpointInFlight(
                [
                    InFlightCharge(record: usage("r1", user: team.walletUserID, key: key, charged: 40), keyBudgeted: false, memberBudgetID: membership.id),
                    InFlightCharge(record: usage("r2", user: team.walletUserID, key: key, charged: 5), keyBudgeted: true),
                ], instanceID: "dead", leaseUntil: Self.t0)
            let claimed = try await store.claimLapsedInFlight(instanceID: "live", now: Self.at(1), leaseUntil: Self.at(31), limit: 10)
            let byRequest = claimed.sorted { $0.record.requestID < $1.record.requestID }
            #expect(byRequest.map(\.record.requestID) == ["r1", "r2"])
            #expect(byRequest.map(\.memberBudgetID) == [membership.id, nil])
            #expect(byRequest.map(\.keyBudgeted) == [false, true])
        }
    }

    /// Removing a member while the settlement writer charges their key: both take the key's row
    /// and the membership's, in the same order, so neither waits on the other forever (on
    /// PostgreSQL a deadlock would abort one of them with an error).
    @Test(arguments: StoreBackend.available)
    func removingAMemberWhileTheirKeyIsChargedNeverDeadlocks(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (team, _) = try await ownedTeam(store)
            let wallet = team.walletUserID
            _ = try await store.credit(userID: wallet, amount: Credits(micros: 1_000_000), kind: .grant, referenceID: "g", note: nil)
            for round in 0..<25 {
                let (user, membership) = try await member(store, "m\(round)@x", of: team)
                _ = try await store.updateTeamMember(teamID: team.id, userID: user, role: nil, spendLimit: .some(Credits(micros: 10_000)))
                let key = try await store.createTeamAPIKey(
                    walletUserID: wallet, membershipID: membership.id, name: "k", keyHash: "h\(round)", prefix: "p", limits: APIKeyLimits())
                async let settled = store.recordSettlements((0..<4).map { usage("r\(round)-\($0)", user: wallet, key: key, charged: 10) })
                async let removed = store.removeTeamMember(teamID: team.id, userID: user, at: Self.at(60))
                let (charges, hashes) = try await (settled, removed)
                #expect(charges.count == 4)
                #expect(hashes == ["h\(round)"])
            }
            #expect(try await store.balance(userID: wallet) == Credits(micros: 1_000_000 - 25 * 4 * 10))
            #expect(try await store.teamMembers(teamID: team.id).count == 1)
        }
    }
}
