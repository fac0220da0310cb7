import Testing
@testable import SluiceCore

@Suite struct CreditsTests {
    @Test(arguments: [("12", 12_000_000), ("-3.5", -3_500_000), ("0.000001", 1), (".5", 500_000), ("7.", 7_000_000)] as [(String, Int64)])
    func parsesDecimals(text: String, micros: Int64) {
        #expect(Credits(decimal: text)?.micros == micros)
    }

    @Test(arguments: ["", "abc", "1.0000001", "1e3", "--1", "9223372036854775807"])
    func rejectsBadOrOverPreciseText(text: String) {
        #expect(Credits(decimal: text) == nil)
    }

    @Test func formatsWithoutTrailingZeros() {
        #expect(Credits(micros: 12_500_000).description == "12.5")
        #expect(Credits(micros: -1).description == "-0.000001")
        #expect(Credits(whole: 3).description == "3")
    }
}

@Suite struct PricingTests {
    let price = Price(inputUSD: "2.50", outputUSD: "10", cachedInputUSD: "1.25")!

    @Test func costOfOneMillionTokensIsThePrice() {
        let pricing = Pricing(creditsPerUSD: Credits(whole: 1))
        #expect(pricing.cost(of: TokenUsage(promptTokens: 1_000_000, completionTokens: 0), at: price) == Credits(micros: 2_500_000))
        #expect(pricing.cost(of: TokenUsage(promptTokens: 0, completionTokens: 1_000_000), at: price) == Credits(whole: 10))
    }

    @Test func cachedTokensUseTheCachedPrice() {
        let pricing = Pricing(creditsPerUSD: Credits(whole: 1))
        let usage = TokenUsage(promptTokens: 1_000_000, completionTokens: 0, cachedPromptTokens: 400_000)
        // 600k at 2.50 + 400k at 1.25 = 1.5 + 0.5
        #expect(pricing.cost(of: usage, at: price) == Credits(whole: 2))
    }

    @Test func cacheReadsAndWritesEachUseTheirOwnPrice() {
        let pricing = Pricing(creditsPerUSD: Credits(whole: 1))
        let anthropic = Price(inputUSD: "3", outputUSD: "15", cachedInputUSD: "0.30", cacheWriteUSD: "3.75")!
        let usage = TokenUsage(promptTokens: 1_000_000, completionTokens: 0, cachedPromptTokens: 500_000, cacheWriteTokens: 200_000)
        // 300k plain at 3 + 500k read at 0.30 + 200k written at 3.75 = 0.9 + 0.15 + 0.75
        #expect(pricing.cost(of: usage, at: anthropic) == Credits(decimal: "1.8")!)
        // A hold assumes the dearest input price for every prompt token.
        #expect(pricing.worstCase(promptTokens: 1_000_000, maxOutputTokens: 0, at: anthropic) == Credits(decimal: "3.75")!)
        // Without a cache-write price, a write costs what plain input does.
        #expect(price.cacheWriteMicroUSDPerMillion == price.inputMicroUSDPerMillion)
        // Counts an upstream gets wrong are clamped: reads and writes never exceed the prompt.
        #expect(TokenUsage(promptTokens: 10, completionTokens: 0, cachedPromptTokens: 8, cacheWriteTokens: 5).cacheWriteTokens == 2)
    }

    @Test func fractionsOfAMicroCreditRoundUp() {
        let pricing = Pricing(creditsPerUSD: Credits(whole: 1))
        // One input token at 2.50 USD per million is 2.5 micro-credits: charged as 3.
        #expect(pricing.cost(of: TokenUsage(promptTokens: 1, completionTokens: 0), at: price) == Credits(micros: 3))
    }

    @Test func creditsPerUSDScalesExactly() {
        let pricing = Pricing(creditsPerUSD: Credits(decimal: "0.5")!)
        #expect(pricing.cost(of: TokenUsage(promptTokens: 0, completionTokens: 1_000_000), at: price) == Credits(whole: 5))
    }

    @Test func worstCaseIsFullPromptPlusEveryOutputToken() {
        let pricing = Pricing(creditsPerUSD: Credits(whole: 1))
        #expect(pricing.worstCase(promptTokens: 1000, maxOutputTokens: 500, at: price) == Credits(micros: 2_500 + 5_000))
    }

    @Test func hugeCountsDoNotOverflow() {
        let pricing = Pricing(creditsPerUSD: Credits(whole: 1_000_000))
        let usage = TokenUsage(promptTokens: Int(Int32.max), completionTokens: Int(Int32.max))
        #expect(pricing.cost(of: usage, at: price) > .zero)
    }
}
