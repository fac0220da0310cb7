import Foundation
import SluiceCore
import Testing
@testable import SluiceProviders

@Suite struct ProviderManifestTests {
    static let providersDir = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Providers").path

    let valid = """
        {"id":"p","name":"P","base_url":"https://api.example.com/v1","wire_protocol":"openai-chat",
         "auth":{"style":"header","header":"api-key"},
         "models":[{"id":"m","context_window":1000,"max_output_tokens":100,"price":{"input":"2.50","output":10,"cached_input":"1.25"}}]}
        """

    @Test func theShippedManifestsLoad() throws {
        let catalog = try ProviderCatalog.load(directory: Self.providersDir)
        #expect(catalog["openai"]?.model("gpt-4o-mini")?.price.inputMicroUSDPerMillion == 150_000)
        #expect(catalog["deepseek"] != nil)
        let anthropic = try #require(catalog["anthropic"])
        #expect(anthropic.wireProtocol == .anthropicMessages && anthropic.auth == .header("x-api-key"))
        #expect(anthropic.model("claude-sonnet-4-5")?.price.cacheWriteMicroUSDPerMillion == 3_750_000)
        #expect(catalog["gemini"]?.wireProtocol == .geminiGenerateContent && catalog["gemini"]?.auth == .header("x-goog-api-key"))
        #expect(catalog["openai-responses"]?.wireProtocol == .openAIResponses && catalog["openai-responses"]?.model("gpt-5") != nil)
    }

    @Test func anAnthropicManifestMustPriceCacheWrites() throws {
        let anthropic = valid.replacingOccurrences(of: #""openai-chat""#, with: #""anthropic-messages""#)
        #expect(throws: ManifestError.self) { try ProviderManifest.parse(Data(anthropic.utf8), file: "a.json") }
        let priced = anthropic.replacingOccurrences(of: #""cached_input":"1.25""#, with: #""cached_input":"1.25","cache_write":"3.125""#)
        #expect(try ProviderManifest.parse(Data(priced.utf8), file: "a.json").models[0].price.cacheWriteMicroUSDPerMillion == 3_125_000)
    }

    @Test func parsesPricesExactlyAndTheAuthStyle() throws {
        let manifest = try ProviderManifest.parse(Data(valid.utf8), file: "p.json")
        #expect(manifest.auth == .header("api-key"))
        #expect(manifest.models[0].price == Price(inputMicroUSDPerMillion: 2_500_000, outputMicroUSDPerMillion: 10_000_000, cachedInputMicroUSDPerMillion: 1_250_000))
    }

    @Test func anOAuthTokenEndpointIsOptional() throws {
        #expect(try ProviderManifest.parse(Data(valid.utf8), file: "p.json").oauth == nil)
        let withOAuth = valid.replacingOccurrences(
            of: #""wire_protocol""#, with: #""oauth":{"token_url":"https://auth.example.com/oauth/token","client_id":"cli"},"wire_protocol""#)
        let manifest = try ProviderManifest.parse(Data(withOAuth.utf8), file: "p.json")
        #expect(manifest.oauth == .init(tokenURL: "https://auth.example.com/oauth/token", clientID: "cli"))
    }

    @Test(arguments: [
        (#""id":"p","#, #""id":"p","typo":1,"#, "unknown field typo"),
        (#""input":"2.50""#, #""input":"-1""#, "negative"),
        (#""context_window":1000"#, #""context_window":"big""#, "context_window must be a positive integer"),
        (#""https://api.example.com/v1""#, #""ftp://x""#, "base_url"),
        (#""max_output_tokens":100"#, #""max_output_tokens":5000"#, "exceeds context_window"),
        (#""style":"header""#, #""style":"magic""#, "auth.style"),
        (#""wire_protocol""#, #""oauth":{"token_url":"not a url"},"wire_protocol""#, "oauth.token_url"),
        (#""wire_protocol""#, #""oauth":{"token_url":"https://x/t","scope":"all"},"wire_protocol""#, "unknown field oauth.scope"),
        (#""openai-chat""#, #""carrier-pigeon""#, "wire_protocol carrier-pigeon is not supported (openai-chat, anthropic-messages, gemini-generate-content, openai-responses)"),
    ])
    func invalidManifestsNameTheFileAndTheProblem(find: String, replace: String, problem: String) {
        let broken = valid.replacingOccurrences(of: find, with: replace)
        do {
            _ = try ProviderManifest.parse(Data(broken.utf8), file: "broken.json")
            Issue.record("accepted: \(broken)")
        } catch {
            #expect(error.description.hasPrefix("provider manifest broken.json:"))
            #expect(error.description.contains(problem), "\(error.description)")
        }
    }

    @Test func cookieJarReplacesByNameAndDropsAttributes() {
        let merged = CookieJar.merge(cookieHeader: "session=old; theme=dark", setCookies: ["session=new; Path=/; HttpOnly", "csrf=t"])
        #expect(merged == "session=new; theme=dark; csrf=t")
    }
}

@Suite struct OAuthTokenTests {
    let previous = OAuthTokens(accessToken: "old-access", refreshToken: "old-refresh", expiresAt: nil)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func interpret(_ status: Int, _ body: String) -> OAuthRefreshResult {
        OAuthTokenClient.interpret(status: status, body: Data(body.utf8), previous: previous, now: now)
    }

    @Test func aRefreshKeepsTheOldRefreshTokenWhenTheProviderSendsNone() {
        #expect(interpret(200, #"{"access_token":"new","expires_in":3600}"#)
            == .refreshed(OAuthTokens(accessToken: "new", refreshToken: "old-refresh", expiresAt: now.addingTimeInterval(3600))))
        #expect(interpret(200, #"{"access_token":"new","refresh_token":"next"}"#)
            == .refreshed(OAuthTokens(accessToken: "new", refreshToken: "next", expiresAt: nil)))
    }

    @Test func onlyInvalidGrantRejectsTheAccount() {
        #expect(interpret(400, #"{"error":"invalid_grant"}"#) == .invalidGrant)
        #expect(interpret(401, #"{"error":"invalid_grant","error_description":"revoked"}"#) == .invalidGrant)
        for (status, body) in [(400, #"{"error":"invalid_client"}"#), (503, "<html>"), (200, #"{"token_type":"Bearer"}"#), (200, "not json")] {
            guard case .failed = interpret(status, body) else {
                Issue.record("HTTP \(status) \(body) was not a retryable failure")
                continue
            }
        }
    }

    @Test func theSecretRoundTripsAndExpiryIsCountedAhead() throws {
        let tokens = OAuthTokens(accessToken: "a", refreshToken: "r", expiresAt: now.addingTimeInterval(100))
        #expect(OAuthTokens.parse(tokens.secret) == tokens)
        #expect(OAuthTokens.parse(#"{"access_token":"a"}"#) == nil)
        #expect(OAuthTokens.parse(#"{"access_token":"","refresh_token":"r"}"#) == nil)
        #expect(tokens.expires(within: 300, now: now) && !tokens.expires(within: 60, now: now))
        #expect(!previous.expires(within: 1_000_000, now: now))
    }

    @Test func theFormIsPercentEncoded() {
        #expect(OAuthTokenClient.formEncoded([("grant_type", "refresh_token"), ("refresh_token", "a+b/c=d&e")])
            == "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3Dd%26e")
    }
}
