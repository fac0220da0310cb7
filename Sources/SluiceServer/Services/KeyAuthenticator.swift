import Crypto
import Foundation
import SluiceCore
import SluiceStore
import Synchronization

/// Turns `Authorization: Bearer sk-…` into the key's record, with a small in-memory cache so the
/// hot path reads the store at most once per key per TTL.
///
/// Only the SHA-256 of the key is used as the cache and store key; the key itself is never kept.
/// Misses are cached too, so a flood of bad keys cannot turn into a flood of store reads.
public final class KeyAuthenticator: Sendable {
    struct Entry {
        var record: APIKeyRecord?
        var fetchedAt: ContinuousClock.Instant
    }

    private let cache = Mutex([String: Entry]())
    private let store: any APIKeyStore
    private let ttl: Duration
    private let capacity: Int

    public init(store: any APIKeyStore, ttl: Duration, capacity: Int) {
        self.store = store
        self.ttl = ttl
        self.capacity = capacity
    }

    /// Lowercase hex SHA-256. Runs on every request, so it writes the 64 digits into one buffer
    /// instead of building a string per byte.
    public static func hash(_ key: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(key.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The key behind an `Authorization` header, or the error the client should see.
    public func authenticate(authorization: String?) async throws(GatewayError) -> APIKeyRecord {
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            throw .missingAPIKey
        }
        let token = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { throw .missingAPIKey }
        let hash = Self.hash(token)
        let record = try await lookup(hash: hash)
        guard let record, record.isUsable(at: Date()) else { throw .invalidAPIKey }
        switch record.userStatus {
        case .active: return record
        case .disabled: throw .userDisabled
        case .muted:
            throw GatewayError(status: 403, type: "permission_error", code: "account_muted", message: "This user may not call models right now.", shouldRetry: false)
        }
    }

    private func lookup(hash: String) async throws(GatewayError) -> APIKeyRecord? {
        let now = ContinuousClock.now
        if let entry = cache.withLock({ $0[hash] }), now - entry.fetchedAt < ttl { return entry.record }
        let record: APIKeyRecord?
        do { record = try await store.apiKey(hash: hash) } catch {
            throw GatewayError(status: 503, type: "server_error", code: "store_unavailable", message: "The gateway cannot check API keys right now.", shouldRetry: true, retryAfterSeconds: 1)
        }
        cache.withLock { cache in
            if cache.count >= capacity {
                cache = cache.filter { now - $0.value.fetchedAt < ttl }
                if cache.count >= capacity, let victim = cache.keys.first { cache.removeValue(forKey: victim) }
            }
            cache[hash] = Entry(record: record, fetchedAt: now)
        }
        return record
    }
}
