import Foundation
import GRDB
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// SSO identities, single-use tokens and the mail outbox, on SQLite and PostgreSQL alike: a token
/// is spent once, never after it expires or for another purpose; an identity belongs to one user;
/// the outbox is bounded and a leased mail is sent by one sender.
@Suite struct IdentityContractTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func token(_ hash: String, _ purpose: OneTimePurpose = .resetPassword, user: Int64?, expires: TimeInterval = 600) -> OneTimeToken {
        OneTimeToken(hash: hash, purpose: purpose, userID: user, payload: #"{"a":1}"#, expiresAt: Self.t0.addingTimeInterval(expires))
    }

    @Test(arguments: StoreBackend.available)
    func aTokenIsSpentOnceOnlyForItsPurposeAndOnlyBeforeItExpires(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "t@x", initialCredits: .zero)
            try await store.issueOneTimeToken(token("h1", user: user), now: Self.t0)
            try await store.issueOneTimeToken(token("h2", user: user, expires: 60), now: Self.t0)
            #expect(try await store.spendOneTimeToken(hash: "h1", purpose: .verifyEmail, now: Self.t0) == nil)
            #expect(try await store.liveOneTimeToken(hash: "h1", purpose: .resetPassword, now: Self.t0)?.userID == user)
            let spent = try await store.spendOneTimeToken(hash: "h1", purpose: .resetPassword, now: Self.t0)
            #expect(spent?.payload == #"{"a":1}"#)
            #expect(spent?.userID == user)
            #expect(try await store.spendOneTimeToken(hash: "h1", purpose: .resetPassword, now: Self.t0) == nil)
            #expect(try await store.liveOneTimeToken(hash: "h1", purpose: .resetPassword, now: Self.t0) == nil)
            // Expired: neither seen nor spent.
            #expect(try await store.liveOneTimeToken(hash: "h2", purpose: .resetPassword, now: Self.t0.addingTimeInterval(60)) == nil)
            #expect(try await store.spendOneTimeToken(hash: "h2", purpose: .resetPassword, now: Self.t0.addingTimeInterval(61)) == nil)
            try await store.pruneOneTimeTokens(before: Self.t0.addingTimeInterval(700))
            try await store.issueOneTimeToken(token("h1", user: user), now: Self.t0)
        }
    }

    @Test(arguments: StoreBackend.available)
    func concurrentSpendsOfOneTokenLetOneWin(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.issueOneTimeToken(token("race", .ssoState, user: nil), now: Self.t0)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<12 { group.addTask { try await store.spendOneTimeToken(hash: "race", purpose: .ssoState, now: Self.t0) != nil } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    @Test(arguments: StoreBackend.available)
    func spendingAUsersTokensEndsEveryOlderLink(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "r@x", initialCredits: .zero)
            let other = try await store.createUser(email: "o@x", initialCredits: .zero)
            try await store.issueOneTimeToken(token("a", user: user), now: Self.t0)
            try await store.issueOneTimeToken(token("b", .verifyEmail, user: user), now: Self.t0)
            try await store.issueOneTimeToken(token("c", user: other), now: Self.t0)
            try await store.spendOneTimeTokens(userID: user, purpose: .resetPassword, now: Self.t0)
            #expect(try await store.liveOneTimeToken(hash: "a", purpose: .resetPassword, now: Self.t0) == nil)
            #expect(try await store.liveOneTimeToken(hash: "b", purpose: .verifyEmail, now: Self.t0) != nil)
            #expect(try await store.liveOneTimeToken(hash: "c", purpose: .resetPassword, now: Self.t0) != nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func anIdentityBelongsToOneUserAndMakesItsUserInOneStep(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let alice = try await store.createUser(email: "alice@x", initialCredits: .zero)
            let identity = UserIdentity(provider: "github", subject: "42", userID: alice, email: "alice@x", createdAt: Self.t0)
            try await store.linkIdentity(identity)
            #expect(try await store.identity(provider: "github", subject: "42")?.userID == alice)
            await #expect(throws: StoreConflict.self) {
                try await store.createUser(NewUser(email: "new@x"), emailVerified: true, identity: identity)
            }
            // The failed create left no user behind.
            #expect(try await store.user(email: "new@x") == nil)
            await #expect(throws: StoreConflict.self) {
                try await store.createUser(
                    NewUser(email: "ALICE@x"), emailVerified: true,
                    identity: UserIdentity(provider: "oidc", subject: "s", userID: 0, email: nil, createdAt: Self.t0))
            }
            let made = try await store.createUser(
                NewUser(email: "bob@x"), emailVerified: true, identity: UserIdentity(provider: "oidc", subject: "b", userID: 0, email: "bob@x", createdAt: Self.t0))
            #expect(try await store.identity(provider: "oidc", subject: "b")?.userID == made)
            #expect(try await store.user(id: made)?.emailVerifiedAt != nil)
            #expect(try await store.passwordHash(userID: made) == nil)
            #expect(try await store.identities(userID: alice).map(\.provider) == ["github"])
            #expect(try await store.unlinkIdentity(provider: "github", userID: made) == false)
            #expect(try await store.unlinkIdentity(provider: "github", userID: alice))
            #expect(try await store.identity(provider: "github", subject: "42") == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func anEmailChangeRefusesATakenAddressAndVerifiesTheNewOne(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let a = try await store.createUser(email: "a@x", initialCredits: .zero)
            _ = try await store.createUser(email: "b@x", initialCredits: .zero)
            #expect(try await store.user(id: a)?.emailVerifiedAt == nil)
            await #expect(throws: StoreConflict.self) { try await store.changeEmail(userID: a, to: "B@x", at: Self.t0) }
            try await store.changeEmail(userID: a, to: "c@x", at: Self.t0)
            let changed = try #require(try await store.user(id: a))
            #expect(changed.email == "c@x")
            #expect(changed.emailVerifiedAt == Self.t0)
            // Verifying again keeps the first time.
            try await store.markEmailVerified(userID: a, at: Self.t0.addingTimeInterval(5))
            #expect(try await store.user(id: a)?.emailVerifiedAt == Self.t0)
            try await store.setPasswordHash(userID: a, "hash")
            #expect(try await store.passwordHash(userID: a) == "hash")
        }
    }

    @Test(arguments: StoreBackend.available)
    func theOutboxIsBoundedAndALeasedMailGoesToOneSender(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let mail = OutgoingMail(recipient: "a@x", subject: "s", body: "b")
            #expect(try await store.enqueueMail(mail, limit: 2, now: Self.t0))
            #expect(try await store.enqueueMail(mail, limit: 2, now: Self.t0))
            #expect(try await store.enqueueMail(mail, limit: 2, now: Self.t0) == false)
            #expect(try await store.waitingMailCount() == 2)
            let lease = Self.t0.addingTimeInterval(60)
            let first = try await store.claimDueMail(now: Self.t0, until: lease, limit: 10)
            #expect(first.count == 2)
            #expect(first.allSatisfy { $0.attempts == 1 })
            #expect(try await store.claimDueMail(now: Self.t0.addingTimeInterval(1), until: lease, limit: 10).isEmpty)
            try await store.finishMail(id: first[0].id, .sent(at: Self.t0))
            try await store.finishMail(id: first[1].id, .retry(error: "down", at: Self.t0.addingTimeInterval(30)))
            #expect(try await store.waitingMailCount() == 1)
            #expect(try await store.claimDueMail(now: Self.t0.addingTimeInterval(29), until: lease, limit: 10).isEmpty)
            let again = try await store.claimDueMail(now: Self.t0.addingTimeInterval(30), until: lease.addingTimeInterval(30), limit: 10)
            #expect(again.map(\.id) == [first[1].id])
            #expect(again.first?.attempts == 2)
            // A sender that died: its lease lapses and the mail is claimed again.
            #expect(try await store.claimDueMail(now: lease.addingTimeInterval(31), until: lease.addingTimeInterval(90), limit: 10).map(\.id) == [first[1].id])
            try await store.finishMail(id: first[1].id, .failed(error: "550", at: lease))
            #expect(try await store.waitingMailCount() == 0)
            #expect(try await store.enqueueMail(mail, limit: 1, now: Self.t0))
        }
    }

    /// The body of a sent or abandoned mail held a live link: it is erased, the row kept.
    @Test func aFinishedMailKeepsNoBody() async throws {
        let store = try await openStore()
        for body in ["sent", "failed", "waiting"] {
            #expect(try await store.enqueueMail(OutgoingMail(recipient: "a@x", subject: body, body: "link \(body)"), limit: 10, now: Self.t0))
        }
        let claimed = try await store.claimDueMail(now: Self.t0, until: Self.t0.addingTimeInterval(60), limit: 10)
        try await store.finishMail(id: claimed[0].id, .sent(at: Self.t0))
        try await store.finishMail(id: claimed[1].id, .failed(error: "550", at: Self.t0))
        let rows = try store.pool.read { db in try Row.fetchAll(db, sql: "SELECT subject, body FROM mail_outbox ORDER BY id") }
        #expect(rows.map { $0["subject"] as String } == ["sent", "failed", "waiting"])
        #expect(rows.map { $0["body"] as String } == ["", "", "link waiting"])
    }
}
