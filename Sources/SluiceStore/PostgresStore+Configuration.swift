import Foundation
import PostgresNIO

extension PostgresStore {
    /// A bad `database.url`.
    public struct URLError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Whether `url` names a PostgreSQL database rather than a SQLite file.
    public static func isPostgresURL(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }

    /// Reads a libpq-style URL: `postgres://user:password@host:port/database?query`. The query
    /// keys are libpq's: `sslmode` (`disable`, `prefer`, the default, or `require`),
    /// `connect_timeout` in seconds (5 unless given), `application_name`, and `options`
    /// (startup options such as `-c search_path=…`). Any other key is an error, as in the config.
    public static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard isPostgresURL(url), let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else {
            throw URLError(description: "database.url must look like postgres://user:password@host:5432/database")
        }
        let user = parts.user ?? "postgres"
        let database = parts.path.split(separator: "/").first.map(String.init) ?? user
        var tls = PostgresClient.Configuration.TLS.prefer(.makeClientConfiguration())
        var options = PostgresClient.Configuration.Options()
        options.connectTimeout = .seconds(5)
        for item in parts.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                switch value {
                case "disable": tls = .disable
                case "prefer": tls = .prefer(.makeClientConfiguration())
                case "require": tls = .require(.makeClientConfiguration())
                default: throw URLError(description: "database.url: sslmode must be disable, prefer or require, not \(value)")
                }
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else {
                    throw URLError(description: "database.url: connect_timeout must be a whole number of seconds")
                }
                options.connectTimeout = .seconds(seconds)
            case "application_name", "options":
                options.additionalStartupParameters.append((item.name, value))
            default:
                throw URLError(description: "database.url: unknown parameter \(item.name)")
            }
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: user, password: parts.password, database: database, tls: tls)
        configuration.options = options
        return configuration
    }
}
