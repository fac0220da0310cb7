import Foundation
import Testing

@testable import SluiceServer

@Suite struct RequestIDTests {
    @Test func theIdIsTheTimeThenTheRandomBitsInFixedWidthHex() {
        #expect(SluiceRequestContext.makeRequestID(millis: 0x0123_4567_89ab, random: 0xfedc_ba98_7654_3210)
            == "req_0123456789abfedcba9876543210")
        #expect(SluiceRequestContext.makeRequestID(millis: 1, random: 2) == "req_0000000000010000000000000002")
    }

    /// The usage log's and the ledger's unique indexes stay append-mostly only if a later
    /// millisecond always sorts after an earlier one, whatever the random bits.
    @Test func aLaterMillisecondSortsAfterAnEarlierOne() {
        let earlier = SluiceRequestContext.makeRequestID(millis: 1_795_000_000_000, random: .max)
        let later = SluiceRequestContext.makeRequestID(millis: 1_795_000_000_001, random: 0)
        #expect(earlier < later)
    }

    @Test func defaultIdsCarryTheCurrentTimeAndDiffer() throws {
        let before = UInt64(Date().timeIntervalSince1970 * 1000)
        let ids = (0..<1000).map { _ in SluiceRequestContext.makeRequestID() }
        let after = UInt64(Date().timeIntervalSince1970 * 1000)
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.count == 32 && id.hasPrefix("req_"))
            #expect(id.dropFirst(4).allSatisfy { "0123456789abcdef".contains($0) })
            let millis = try #require(UInt64(id.dropFirst(4).prefix(12), radix: 16))
            #expect((before...after).contains(millis))
        }
    }
}
