import Foundation
import SluiceServer
import Testing

/// No container engine runs on the machines this is built on, so the Dockerfile and compose file
/// are checked against what they name: paths that exist, config variables Sluice knows, the port
/// it listens on, routes it serves and commands the binary has.
@Suite struct ContainerFilesTests {
    static func file(_ path: String) throws -> String {
        try String(contentsOf: Harness.repoRoot.appendingPathComponent(path), encoding: .utf8)
    }

    static var knownVariables: Set<String> {
        Set(ConfigLoader.documentedKeys.map { "SLUICE_" + $0.uppercased().replacingOccurrences(of: ".", with: "_") })
    }

    /// Every `SLUICE_…` name in `text`.
    static func variables(_ text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: "SLUICE_[A-Z0-9_]+")
        return Set(regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) })
    }

    @Test func theDockerfileNamesWhatExists() async throws {
        let dockerfile = try Self.file("Dockerfile")
        let lines = dockerfile.split(separator: "\n").map(String.init)
        for line in lines where line.hasPrefix("COPY ") && !line.contains("--from") {
            let parts = line.split(separator: " ").map(String.init)
            for source in parts.dropFirst().dropLast() {
                #expect(FileManager.default.fileExists(atPath: Harness.repoRoot.appendingPathComponent(source).path), "COPY \(source) does not exist")
            }
        }
        #expect(try Self.file("Package.swift").contains(#".executable(name: "sluice""#), "the product it builds")
        let unknown = Self.variables(dockerfile).subtracting(Self.knownVariables)
        #expect(unknown.isEmpty, "unknown config variables \(unknown)")
        // The port it exposes is the one it tells Sluice to listen on, and the health check asks it.
        let port = try #require(lines.first { $0.contains("SLUICE_SERVER_PORT=") }?.split(separator: "=").last?.split(separator: " ").first)
        #expect(dockerfile.contains("EXPOSE \(port)") && dockerfile.contains("127.0.0.1:\(port)/health/live"))
        #expect(dockerfile.contains("USER sluice") && dockerfile.contains("--uid 10001"), "it runs as a non-root user")
        #expect(dockerfile.contains(#"ENTRYPOINT ["sluice"]"#) && dockerfile.contains(#"CMD ["serve"]"#))
        #expect(dockerfile.contains("--static-swift-stdlib"))
        // The commands and the route it names are real.
        let help = try CommandLineTests.run(["serve", "--help"], environment: [:])
        #expect(help.status == 0)
        try await Harness.run { h in
            let live = try await h.request("/health/live", method: .GET, key: nil)
            let ready = try await h.request("/health/ready", method: .GET, key: nil)
            #expect(live.status == 200 && ready.status == 200)
        }
    }

    @Test func theComposeFileRunsTwoInstancesOnSharedStateBehindNginx() throws {
        let compose = try Self.file("compose.yaml")
        let unknown = Self.variables(compose).subtracting(Self.knownVariables)
        #expect(unknown.isEmpty, "unknown config variables \(unknown)")
        for service in ["sluice-1:", "sluice-2:", "postgres:", "redis:", "nginx:"] { #expect(compose.contains("  \(service)"), "no \(service)") }
        #expect(compose.contains("SLUICE_DATABASE_URL: postgres://") && compose.contains("SLUICE_REDIS_URL: redis://redis:6379"))
        // Both instances share the secrets the README's scale-out section says they must.
        for shared in ["SLUICE_SECURITY_ENCRYPTION_KEY", "SLUICE_AUTH_JWT_SECRET"] {
            #expect(compose.contains(shared))
            #expect(try Self.file("config/.env.example").contains(shared), "\(shared) is not in config/.env.example")
        }
        // A stop waits out the drain.
        let grace = try #require(compose.split(separator: "\n").first { $0.contains("stop_grace_period:") })
        let seconds = Int(grace.split(separator: ":")[1].trimmingCharacters(in: .whitespaces).prefix { $0.isNumber }) ?? 0
        #expect(seconds > SluiceConfig().server.drainSeconds + SluiceConfig().server.unreadySeconds)

        let mount = try #require(compose.split(separator: "\n").first { $0.contains("nginx.conf") })
        let path = String(try #require(mount.split(separator: "./").last?.split(separator: ":").first))
        let nginx = try Self.file(path)
        // nginx sends to each instance on the port Sluice listens on, unbuffered, as the README says.
        for instance in ["sluice-1", "sluice-2"] { #expect(nginx.contains("server \(instance):\(SluiceConfig().server.port);")) }
        #expect(nginx.contains("proxy_buffering off;") && nginx.contains("proxy_http_version 1.1;"))
        #expect(try Self.file("README.md").contains("proxy_buffering off;"))
    }
}
