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
    }

    @Test func parsesPricesExactlyAndTheAuthStyle() throws {
        let manifest = try ProviderManifest.parse(Data(valid.utf8), file: "p.json")
        #expect(manifest.auth == .header("api-key"))
        #expect(manifest.models[0].price == Price(inputMicroUSDPerMillion: 2_500_000, outputMicroUSDPerMillion: 10_000_000, cachedInputMicroUSDPerMillion: 1_250_000))
    }

    @Test(arguments: [
        (#""id":"p","#, #""id":"p","typo":1,"#, "unknown field typo"),
        (#""input":"2.50""#, #""input":"-1""#, "negative"),
        (#""context_window":1000"#, #""context_window":"big""#, "context_window must be a positive integer"),
        (#""https://api.example.com/v1""#, #""ftp://x""#, "base_url"),
        (#""max_output_tokens":100"#, #""max_output_tokens":5000"#, "exceeds context_window"),
        (#""style":"header""#, #""style":"magic""#, "auth.style"),
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
