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
        var fetchedAt: Date
    }

    /// What a waiting request learns from the store read it waited for.
    enum Fetched {
        case record(APIKeyRecord?)
        /// The read failed; the waiter reads the store itself rather than share another's error.
        case failed
    }

    struct Cache {
        var entries: [String: Entry] = [:]
        /// Lookups answered from the cache, and those that read (or waited for) the store.
        var hits = 0
        var misses = 0
        /// One store read per key at a time; the requests that miss meanwhile wait for it.
        var reads = SingleFlights<String, CheckedContinuation<Fetched, Never>>()
    }

    private let cache = Mutex(Cache())
    private let store: any APIKeyStore
    private let ttl: TimeInterval
    private let capacity: Int
    /// Ages entries and checks key expiry. A wall clock that steps back keeps an entry longer,
    /// which the short TTL bounds; revocations do not wait for it (`forget`).
    private let clock: any WallClock

    /// Where revocations go, for the other instances' caches.
    private let events: any ClusterEvents

    public init(
        store: any APIKeyStore, ttl: Duration, capacity: Int, events: any ClusterEvents = SoloInstance(), clock: any WallClock = SystemClock()
    ) {
        self.events = events
        self.store = store
        self.ttl = Double(ttl.components.seconds) + Double(ttl.components.attoseconds) / 1e18
        self.capacity = capacity
        self.clock = clock
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

    /// The credential in `Authorization: Bearer <credential>` (scheme in any case), or nil. The
    /// API keys of `/v1` and the access tokens of `/api` both arrive this way.
    /// Works on the header's bytes: every request passes here, and `lowercased()` with Foundation's
    /// whitespace trimming cost more than the key's hash.
    static func bearerToken(_ authorization: String?) -> String? {
        guard let header = authorization?.utf8, header.count > 7 else { return nil }
        let asciiLowercase = { (byte: UInt8) in (65...90).contains(byte) ? byte + 32 : byte }
        guard header.prefix(7).elementsEqual("bearer ".utf8, by: { asciiLowercase($0) == $1 }) else { return nil }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let token = header.dropFirst(7).drop(while: isBlank)
        guard let last = token.lastIndex(where: { !isBlank($0) }) else { return nil }
        return String(decoding: token[...last], as: UTF8.self)
    }

    /// The key behind an `Authorization` header, or the error the client should see.
    public func authenticate(authorization: String?) async throws(GatewayError) -> APIKeyRecord {
        guard let token = Self.bearerToken(authorization) else { throw .missingAPIKey }
        let hash = Self.hash(token)
        let record = try await lookup(hash: hash)
        guard let record, record.isUsable(at: clock.now()) else { throw .invalidAPIKey }
        // A team key answers to its member's status as well as the team's.
        let status = record.teamMember.map { $0.status == .active ? record.userStatus : $0.status } ?? record.userStatus
        switch status {
        case .active: return record
        case .disabled: throw .userDisabled
        case .muted:
            throw .userMuted
        }
    }

    /// Drops a key from this cache and every other instance's, so its revocation applies to the
    /// next request. Without Redis, other instances see it when their entry expires (the TTL).
    public func forget(hash: String) {
        drop(hash: hash)
        events.publish(.keyRevoked(hash: hash))
    }

    /// Drops the team keys of a membership whose limit changed, here and, for the keys this cache
    /// holds, on every other instance; keys cached only elsewhere follow within the TTL.
    public func forget(membershipID: Int64) {
        let hashes = cache.withLock { cache in
            cache.entries.filter { $0.value.record?.teamMember?.membershipID == membershipID }.map(\.key)
        }
        hashes.forEach(forget(hash:))
    }

    /// Drops a key another instance revoked.
    public func apply(_ event: ClusterEvent) {
        if case .keyRevoked(let hash) = event { drop(hash: hash) }
    }

    private func drop(hash: String) {
        cache.withLock { _ = $0.entries.removeValue(forKey: hash) }
    }

    /// The cached record, or one read from the store. Single-flight per key: when an entry
    /// expires under load, one request reads the store and the others wait for its answer instead
    /// of all reading at once.
    private func lookup(hash: String) async throws(GatewayError) -> APIKeyRecord? {
        let now = clock.now()
        let action: Action = cache.withLock { cache in
            if let entry = cache.entries[hash], isFresh(entry, now: now) {
                cache.hits += 1
                return .hit(entry.record)
            }
            cache.misses += 1
            return cache.reads.lead(hash) ? .fetch : .wait
        }
        switch action {
        case .hit(let record): return record
        case .fetch: return try await fetch(hash: hash, now: now, singleFlight: true)
        case .wait:
            switch await waitForFetch(hash: hash) {
            case .record(let record): return record
            case .failed: return try await fetch(hash: hash, now: now, singleFlight: false)
            }
        }
    }

    private enum Action { case hit(APIKeyRecord?), wait, fetch }

    /// Lookups so far answered from the cache and not, for `/metrics`.
    var cacheCounts: (hits: Int, misses: Int) { cache.withLock { ($0.hits, $0.misses) } }

    private func isFresh(_ entry: Entry, now: Date) -> Bool { now.timeIntervalSince(entry.fetchedAt) < ttl }

    private func waitForFetch(hash: String) async -> Fetched {
        await withCheckedContinuation { (continuation: CheckedContinuation<Fetched, Never>) in
            // The read may have finished since `lookup` looked; then answer with what it left.
            let missed: Fetched? = cache.withLock { cache in
                guard cache.reads.wait(hash, continuation) != nil else { return nil }
                return cache.entries[hash].map { .record($0.record) } ?? .failed
            }
            if let missed { continuation.resume(returning: missed) }
        }
    }

    private func fetch(hash: String, now: Date, singleFlight: Bool) async throws(GatewayError) -> APIKeyRecord? {
        let record: APIKeyRecord?
        do { record = try await store.apiKey(hash: hash) } catch {
            if singleFlight { finish(hash: hash, with: nil) }
            throw GatewayError(status: 503, type: "server_error", code: "store_unavailable", message: "The gateway cannot check API keys right now.", shouldRetry: true, retryAfterSeconds: 1)
        }
        let entry = Entry(record: record, fetchedAt: now)
        if singleFlight { finish(hash: hash, with: entry) } else { cache.withLock { store(entry, for: hash, in: &$0) } }
        return record
    }

    /// Stores the fetched entry (nil: the fetch failed) and wakes the requests that waited for it.
    private func finish(hash: String, with entry: Entry?) {
        let waiters = cache.withLock { cache in
            if let entry { store(entry, for: hash, in: &cache) }
            return cache.reads.finish(hash)
        }
        let outcome: Fetched = entry.map { .record($0.record) } ?? .failed
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    /// Keeps the cache within `capacity`: expired entries go first, then any one.
    private func store(_ entry: Entry, for hash: String, in cache: inout Cache) {
        if cache.entries[hash] == nil, cache.entries.count >= capacity {
            cache.entries = cache.entries.filter { isFresh($0.value, now: entry.fetchedAt) }
            if cache.entries.count >= capacity, let victim = cache.entries.keys.first { cache.entries.removeValue(forKey: victim) }
        }
        cache.entries[hash] = entry
    }
}
