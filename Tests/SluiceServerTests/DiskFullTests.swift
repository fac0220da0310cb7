import Foundation
import GRDB
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// SQLite on a full disk (issue 33): the store's writes fail with SQLITE_FULL, charges queue up to
/// the bound and new requests are refused past it, and every queued charge is written once space
/// returns. The disk is "filled" with `max_page_count`, SQLite's own cap on the file's size, on
/// the pool's one writing connection: the same error a full disk gives.
@Suite(.enabled(if: !TestPostgres.serverTestsUsePostgres))
struct DiskFullTests {
    @Test func aFullDiskQueuesChargesUpToTheBoundThenTheyAreWritten() async throws {
        let capacity = 3
        try await Harness.run(configure: { $0.settlement.queueCapacity = capacity }) { h in
            let sqlite = try #require(h.gateway.store as? SQLiteStore)
            try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(whole: 1))
            #expect(try await h.chat(user.key).status == 200)
            await h.settled()
            let pages = try await sqlite.pool.write { try Int.fetchOne($0, sql: "PRAGMA page_count") ?? 0 }
            _ = try await sqlite.pool.write { try Int.fetchOne($0, sql: "PRAGMA max_page_count = \(pages)") }

            // Served while writes fail, until the queue holds `capacity` charges: then refused.
            var served = 1
            var refusal: Harness.Reply?
            for _ in 0..<400 {
                let reply = try await h.chat(user.key)
                if reply.status == 200 { served += 1 } else { refusal = reply; break }
            }
            #expect(refusal?.status == 503, "writes never failed, or never backed up")
            #expect(refusal?.error?["code"] as? String == "overloaded")

            _ = try await sqlite.pool.write { try Int.fetchOne($0, sql: "PRAGMA max_page_count = 1073741823") }
            try await eventually("the queued charges are written", within: 15) {
                (try? await h.gateway.store.usageLogs(userID: user.id).count) == served
            }
            await h.settled()
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 1) - Credits(micros: Int64(served) * BillingTests.mockCost.micros))
            try await BillingTests().expectLedgerBalances(h, userID: user.id)
        }
    }
}
