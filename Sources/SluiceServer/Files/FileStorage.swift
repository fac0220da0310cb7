import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where uploaded files' bytes live. Keys are made by Sluice (never a user's file name).
protocol FileStorage: Sendable {
    func put(key: String, bytes: ByteBuffer) async throws
    /// Nil when there is no such object.
    func get(key: String) async throws -> ByteBuffer?
    /// Deleting a missing object is not an error.
    func delete(key: String) async throws
}

struct FileStorageError: Error, CustomStringConvertible {
    var description: String
}

/// The shape every storage key has: segments of letters, digits, `_` and `-`, each starting with
/// a letter or digit, joined by `/`. Sluice makes its keys so; checking again in each storage
/// means no bug elsewhere can turn a key into `..`, an absolute path or a hidden file.
enum FileStorageKey {
    /// S3's limit on a key's length; no local file system minds it.
    static let maxLength = 1024

    static func isValid(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= maxLength else { return false }
        for segment in key.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let first = segment.first, first.isASCIILetterOrDigit else { return false }
            guard segment.allSatisfy({ $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else { return false }
        }
        return true
    }

    static func check(_ key: String) throws {
        guard isValid(key) else { throw FileStorageError(description: "Not a valid storage key.") }
    }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: false
        }
    }
}

/// Files in a directory on this machine: a key is a path under `root`. For one instance, or
/// several sharing a network volume.
///
/// The file calls block the calling thread. They run on the concurrency pool all the same: a
/// file is bounded by the upload limit, so a call is short, and a thread pool for them would be
/// machinery without a measured need.
struct LocalFileStorage: FileStorage {
    let root: URL

    init(root: String) {
        self.root = URL(fileURLWithPath: root, isDirectory: true)
    }

    func put(key: String, bytes: ByteBuffer) async throws {
        try FileStorageKey.check(key)
        try Self.write(Data(bytes.readableBytesView), to: url(key))
    }

    func get(key: String) async throws -> ByteBuffer? {
        try FileStorageKey.check(key)
        return try Self.read(url(key)).map { ByteBuffer(bytes: $0) }
    }

    func delete(key: String) async throws {
        try FileStorageKey.check(key)
        try Self.remove(url(key))
    }

    private func url(_ key: String) -> URL {
        root.appendingPathComponent(key, isDirectory: false)
    }

    /// Written to a temporary file beside the final one, then renamed over it: a reader sees the
    /// old file or the whole new one, never a part, and a crash leaves at worst a stray temporary.
    /// The temporary's name starts with a dot, which no key can, so it never collides with one.
    private static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp", isDirectory: false)
        do {
            try data.write(to: temporary, options: .withoutOverwriting)
            guard rename(temporary.path, url.path) == 0 else {
                throw FileStorageError(description: "Could not store a file: \(String(cString: strerror(errno))).")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Errors are told apart by whether the file is there afterwards, not by their codes, which
    /// Foundation reports differently from one platform to the next.
    private static func read(_ url: URL) throws -> Data? {
        do {
            return try Data(contentsOf: url)
        } catch {
            if !FileManager.default.fileExists(atPath: url.path) { return nil }
            throw error
        }
    }

    private static func remove(_ url: URL) throws {
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            if FileManager.default.fileExists(atPath: url.path) { throw error }
        }
    }
}
