import ArgumentParser
import Foundation
import Logging
import SluiceServer

/// `sluice mcp`: Sluice's MCP tools over standard input and output, bridged to a running gateway.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve Sluice's MCP tools over stdio, calling a running gateway with SLUICE_MCP_TOKEN.",
        discussion: """
            The token (a service token, sst-…, or a user's API key, sk-sluice-…) is read from the environment, never from \
            the command line, where other users of the machine could read it. Logs go to standard error; standard output \
            carries only MCP messages.
            """)

    @Option(help: "The gateway's base URL.") var url = "http://127.0.0.1:8080"

    func run() async throws {
        guard let token = ProcessInfo.processInfo.environment["SLUICE_MCP_TOKEN"], !token.isEmpty else {
            throw ValidationError("set SLUICE_MCP_TOKEN to a service token or an API key")
        }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ValidationError("--url must be an http or https URL")
        }
        let logger = Logger(label: "sluice.mcp") { StreamLogHandler.standardError(label: $0) }
        try await MCPStdio.serve(gatewayURL: url, token: token, logger: logger)
    }
}
