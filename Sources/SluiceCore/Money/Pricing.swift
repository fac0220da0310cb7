/// A model's price in micro-USD per million tokens, as the provider manifest states it.
public struct Price: Sendable, Hashable {
    public var inputMicroUSDPerMillion: Int64
    public var outputMicroUSDPerMillion: Int64
    public var cachedInputMicroUSDPerMillion: Int64
    /// Input written to the provider's prompt cache (Anthropic charges more than for plain input).
    public var cacheWriteMicroUSDPerMillion: Int64

    public init(
        inputMicroUSDPerMillion: Int64, outputMicroUSDPerMillion: Int64, cachedInputMicroUSDPerMillion: Int64,
        cacheWriteMicroUSDPerMillion: Int64? = nil
    ) {
        self.inputMicroUSDPerMillion = inputMicroUSDPerMillion
        self.outputMicroUSDPerMillion = outputMicroUSDPerMillion
        self.cachedInputMicroUSDPerMillion = cachedInputMicroUSDPerMillion
        self.cacheWriteMicroUSDPerMillion = cacheWriteMicroUSDPerMillion ?? inputMicroUSDPerMillion
    }

    /// Parses manifest decimals such as `"2.50"` (USD per million tokens). Without a cache-write
    /// price, cache writes cost as much as plain input (providers that have none report none).
    public init?(inputUSD: String, outputUSD: String, cachedInputUSD: String, cacheWriteUSD: String? = nil) {
        guard let i = FixedPoint.parse(inputUSD, scale: 6), let o = FixedPoint.parse(outputUSD, scale: 6),
              let c = FixedPoint.parse(cachedInputUSD, scale: 6), i >= 0, o >= 0, c >= 0
        else { return nil }
        var w: Int64?
        if let cacheWriteUSD {
            guard let parsed = FixedPoint.parse(cacheWriteUSD, scale: 6), parsed >= 0 else { return nil }
            w = parsed
        }
        self.init(inputMicroUSDPerMillion: i, outputMicroUSDPerMillion: o, cachedInputMicroUSDPerMillion: c, cacheWriteMicroUSDPerMillion: w)
    }

    /// The dearest price an input token can have: what a hold assumes for every prompt token.
    var dearestInputMicroUSDPerMillion: Int64 {
        max(inputMicroUSDPerMillion, cachedInputMicroUSDPerMillion, cacheWriteMicroUSDPerMillion)
    }
}

/// Token counts of one request, as the upstream reported them or as estimated.
public struct TokenUsage: Sendable, Hashable {
    /// Every input token, however it was priced: plain, read from the cache, or written to it.
    public var promptTokens: Int
    public var completionTokens: Int
    /// Of the prompt, tokens read from the provider's prompt cache.
    public var cachedPromptTokens: Int
    /// Of the prompt, tokens written to the provider's prompt cache.
    public var cacheWriteTokens: Int

    public init(promptTokens: Int, completionTokens: Int, cachedPromptTokens: Int = 0, cacheWriteTokens: Int = 0) {
        self.promptTokens = max(0, promptTokens)
        self.completionTokens = max(0, completionTokens)
        self.cachedPromptTokens = min(max(0, cachedPromptTokens), self.promptTokens)
        self.cacheWriteTokens = min(max(0, cacheWriteTokens), self.promptTokens - self.cachedPromptTokens)
    }
}

/// Turns tokens into credits. All arithmetic is integer; intermediate products use `Int128`.
public struct Pricing: Sendable {
    /// Micro-credits per USD, so fractional rates such as 0.5 credits per USD stay exact.
    public let microCreditsPerUSD: Int64

    public init(creditsPerUSD: Credits) { self.microCreditsPerUSD = creditsPerUSD.micros }

    /// The cost of `usage` at `price`, rounded up to the next micro-credit so the gateway never
    /// under-charges by rounding.
    public func cost(of usage: TokenUsage, at price: Price) -> Credits {
        let plain = Int128(usage.promptTokens - usage.cachedPromptTokens - usage.cacheWriteTokens)
        let tokenMicroUSD =
            plain * Int128(price.inputMicroUSDPerMillion)
            + Int128(usage.cachedPromptTokens) * Int128(price.cachedInputMicroUSDPerMillion)
            + Int128(usage.cacheWriteTokens) * Int128(price.cacheWriteMicroUSDPerMillion)
            + Int128(usage.completionTokens) * Int128(price.outputMicroUSDPerMillion)
        // tokenMicroUSD is micro-USD × tokens-per-million; × micro-credits/USD; ÷ (1e6 tokens × 1e6 micro).
        let numerator = tokenMicroUSD * Int128(microCreditsPerUSD)
        let denominator = Int128(1_000_000) * Int128(1_000_000)
        let micros = (numerator + denominator - 1) / denominator
        return Credits(micros: micros > Int128(Int64.max) ? Int64.max : Int64(micros))
    }

    /// The worst case a request can cost: every prompt token at the dearest input price plus every
    /// output token it may produce.
    public func worstCase(promptTokens: Int, maxOutputTokens: Int, at price: Price) -> Credits {
        var dearest = price
        dearest.inputMicroUSDPerMillion = price.dearestInputMicroUSDPerMillion
        return cost(of: TokenUsage(promptTokens: promptTokens, completionTokens: maxOutputTokens), at: dearest)
    }
}

/// Cheap, conservative token estimates, used for holds and when an upstream sends no usage.
public enum TokenEstimate {
    /// Prompt tokens from the request body size. Real tokenizers average about four bytes of English
    /// per token; three keeps the hold on the safe side for code and non-Latin text.
    public static func promptTokens(bodyBytes: Int) -> Int { (bodyBytes + 2) / 3 }

    /// Completion tokens from a stream cut short: providers send about one token per content chunk.
    public static func completionTokens(contentChunks: Int) -> Int { contentChunks }
}
