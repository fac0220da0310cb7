import Foundation
import SluiceCore
import Testing

@Suite struct IPNetworkTests {
    @Test func ipv4NetworksMatchTheirAddressesOnly() throws {
        let net = try #require(IPNetwork("10.1.0.0/16"))
        #expect(net.contains("10.1.255.7"))
        #expect(!net.contains("10.2.0.1"))
        #expect(net.description == "10.1.0.0/16")
        // Host bits are cleared, so 10.1.2.3/16 is the same network.
        #expect(IPNetwork("10.1.2.3/16") == net)
    }

    @Test func aBareAddressIsANetworkOfOne() throws {
        let one = try #require(IPNetwork("127.0.0.1"))
        #expect(one.contains("127.0.0.1"))
        #expect(!one.contains("127.0.0.2"))
    }

    @Test func ipv6AndMappedIPv4() throws {
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains("2001:db8:ffff::1"))
        #expect(!v6.contains("2001:db9::1"))
        #expect(!v6.contains("10.0.0.1"))
        #expect(try #require(IPNetwork("192.168.0.0/24")).contains("::ffff:192.168.0.9"))
    }

    @Test(arguments: ["10.0.0.0/33", "300.1.1.1", "", "abc", "::1/129", "10.0.0.0/-1"])
    func malformedNetworksAreRefused(_ text: String) {
        #expect(IPNetwork(text) == nil)
    }
}

@Suite struct RateLimitTests {
    @Test func slidingWindowWeighsThePreviousWindowByOverlap() {
        var window = SlidingWindow(length: 60)
        window.add(60, at: 0)
        #expect(window.count(at: 59) == 60)
        // A quarter into the next window, three quarters of the previous one still count.
        #expect(window.count(at: 75) == 45)
        #expect(window.count(at: 200) == 0)
    }

    @Test func aBurstJustBeforeABoundaryStillCountsInFullJustAfterIt() {
        var window = SlidingWindow(length: 60)
        for _ in 0..<3 { window.add(1, at: 59.9) }
        // 0.1 s into the next window the weight is 0.998: three attempts must not count as 2.99.
        #expect(window.count(at: 60.1) == 3)
        #expect(window.secondsUntilBelow(3, at: 60.1) >= 1)
        #expect(window.count(at: 90) == 2)
    }

    @Test func requestsPerMinuteRefuseTheOneOverTheLimitWithARetryTime() {
        let limiter = LocalKeyRateLimiter()
        for _ in 0..<3 { #expect(limiter.admit(keyID: 1, rpm: 3, tpm: nil, now: 1_000) == .allowed) }
        guard case .limited("requests", let retry) = limiter.admit(keyID: 1, rpm: 3, tpm: nil, now: 1_000) else {
            Issue.record("the fourth request was not limited")
            return
        }
        #expect(retry >= 1 && retry <= 120)
        // Another key has its own window; a key without limits is never counted.
        #expect(limiter.admit(keyID: 2, rpm: 3, tpm: nil, now: 1_000) == .allowed)
        #expect(limiter.admit(keyID: 3, rpm: nil, tpm: nil, now: 1_000) == .allowed)
        // Two windows later the key may call again.
        #expect(limiter.admit(keyID: 1, rpm: 3, tpm: nil, now: 1_130) == .allowed)
    }

    @Test func tokensPerMinuteCountWhatRequestsUsed() {
        let limiter = LocalKeyRateLimiter()
        #expect(limiter.admit(keyID: 1, rpm: nil, tpm: 100, now: 0) == .allowed)
        limiter.recordTokens(keyID: 1, tokens: 100, now: 1)
        guard case .limited("tokens", _) = limiter.admit(keyID: 1, rpm: nil, tpm: 100, now: 2) else {
            Issue.record("a key past its TPM was admitted")
            return
        }
    }
}
