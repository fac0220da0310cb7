import Foundation

extension ConfigLoader {
    static let corsKeys: [Key] = [
        Key(path: "server.cors.allowed_origins") { config, value, source in
            let origins = list(value)
            for origin in origins where origin != "*" {
                guard CORSPolicy.isValidOriginPattern(origin) else {
                    throw Error(description: "\(source): server.cors.allowed_origins: \(origin) is not an origin such as https://chat.example.com or https://*.example.com")
                }
            }
            config.server.cors.allowedOrigins = origins
        },
        Key(path: "server.cors.allowed_methods") { config, value, source in
            let methods = list(value).map { $0.uppercased() }
            guard !methods.isEmpty, methods.allSatisfy({ $0.allSatisfy { $0.isLetter } }) else {
                throw Error(description: "\(source): server.cors.allowed_methods must be HTTP methods such as GET, POST")
            }
            config.server.cors.allowedMethods = methods
        },
        Key(path: "server.cors.allowed_headers") { config, value, _ in config.server.cors.allowedHeaders = list(value).map { $0.lowercased() } },
        Key(path: "server.cors.exposed_headers") { config, value, _ in config.server.cors.exposedHeaders = list(value).map { $0.lowercased() } },
        bool("server.cors.allow_credentials") { $0.server.cors.allowCredentials = $1 },
        int("server.cors.max_age_seconds", min: 0, max: 86_400) { $0.server.cors.maxAgeSeconds = $1 },
        Key(path: "server.api_docs") { config, value, source in
            // Empty: unset, so the environment decides.
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty else { return config.server.apiDocs = nil }
            try bool("server.api_docs") { $0.server.apiDocs = $1 }.apply(&config, value, source)
        },
        Key(path: "environment") { config, value, source in
            guard let environment = SluiceConfig.Environment(rawValue: value) else {
                throw Error(description: "\(source): environment must be development or production, got \(value)")
            }
            config.environment = environment
        },
    ]

    /// A comma-separated list (YAML lists arrive joined with commas), trimmed, empty items dropped.
    static func list(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
