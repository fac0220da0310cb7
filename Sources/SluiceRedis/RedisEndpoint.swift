import Foundation

/// Where Redis is, from `redis.url`: `redis://[:password@]host[:port][/database]`.
public struct RedisEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int

    public struct URLError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(host: String, port: Int = 6379, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
    }

    public init(url: String) throws {
        guard url.hasPrefix("redis://"), let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else {
            throw URLError(description: "redis.url must look like redis://host:6379 or redis://:password@host:6379/0")
        }
        if !(parts.queryItems ?? []).isEmpty { throw URLError(description: "redis.url takes no query parameters") }
        let path = parts.path.split(separator: "/")
        guard path.count <= 1, let database = path.first.map({ Int($0) }) ?? 0 else {
            throw URLError(description: "redis.url: the path must be a database number, like /0")
        }
        self.host = host
        port = parts.port ?? 6379
        password = parts.password
        self.database = database
    }
}
