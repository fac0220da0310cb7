import Foundation
import Logging
import SluiceCore
@testable import SluiceServer
import SluiceTestSupport
import Testing

/// The in-flight journal against the clock: an instance whose clock jumped ahead past the lease
/// takes a live request for a dead one's; the request is still charged once.
@Suite struct InFlightJournalTests {
    @Test func aClockJumpPastTheLeaseStillChargesALiveRequestOnce() async throws {
        try await Harness.run { h in
            let user = try await h.user()
            var reader = try await h.heldStream(user.key)
            await h.gateway.inFlight.pass()

            let jumped = InFlightJournal(
                store: h.gateway.store, writer: h.gateway.settlements, interval: .seconds(1), lease: .seconds(15),
                clock: ManualClock(Date().addingTimeInterval(3600)), logger: Logger(label: "test"))
            await jumped.pass()
            await h.settled()
            let early = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(early.map(\.endReason) == ["instance_lost"])
            #expect(early.first?.charged ?? .zero > .zero)

            // The request itself ends later: its hold was settled already, so nothing more is charged.
            h.control.releaseGate()
            _ = try await reader.rest()
            await h.settled()
            #expect(try await h.gateway.store.usageLogs(userID: user.id).count == 1)
            let consumed = try await h.gateway.store.ledger(userID: user.id).filter { $0.kind == .consume }
            #expect(consumed.count == 1 && consumed.first?.amount == Credits(micros: -(early.first?.charged.micros ?? 0)))
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(micros: Credits(whole: 10).micros - (early.first?.charged.micros ?? 0)))
            #expect(h.gateway.credits.outstandingHolds == 0)
        }
    }
}
