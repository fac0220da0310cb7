import Crypto
import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceStore

/// Users' files: the store's records and the storage's bytes, kept in step. An upload's bytes are
/// stored first, under a key Sluice makes, and its record added after, inside the user's quota in
/// one transaction; a crash between leaves bytes no record names, never a record without bytes.
/// A delete removes the record first for the same reason.
struct UserFiles: Sendable {
    let store: any UserFileStore
    let storage: any FileStorage
    let maxFileBytes: Int
    let quotaBytes: Int64
    let logger: Logger

    /// Stores an upload for the user; the name and type have been checked by `UploadedFile`.
    func add(_ upload: UploadedFile, userID: Int64) async throws -> UserFileRecord {
        // Refused before a byte is stored when it cannot fit; the store checks again atomically.
        let used = try await store.userFileBytes(userID: userID)
        guard used + Int64(upload.bytes.readableBytes) <= quotaBytes else { throw Self.overQuota(used: used, quota: quotaBytes) }
        let key = "u\(userID)/\(UUID().uuidString.lowercased())"
        do { try await storage.put(key: key, bytes: upload.bytes) } catch { throw storageFailed(error, doing: "store") }
        let file = NewUserFile(
            userID: userID, name: upload.name, contentType: upload.contentType, size: Int64(upload.bytes.readableBytes),
            sha256: SHA256.hash(data: upload.bytes.readableBytesView).hex, storageKey: key)
        let addition: UserFileAddition
        do { addition = try await store.addUserFile(file, quotaBytes: quotaBytes, at: Date()) } catch {
            await removeBytes(key)
            throw error
        }
        switch addition {
        case .added(let record): return record
        case .overQuota(let used):
            await removeBytes(key)
            throw Self.overQuota(used: used, quota: quotaBytes)
        }
    }

    /// The file's bytes, checked against the hash taken at upload.
    func content(of record: UserFileRecord) async throws -> ByteBuffer {
        let bytes: ByteBuffer?
        do { bytes = try await storage.get(key: record.file.storageKey) } catch { throw storageFailed(error, doing: "read") }
        guard let bytes, SHA256.hash(data: bytes.readableBytesView).hex == record.file.sha256 else {
            logger.error("a stored file is missing or altered", metadata: ["file_id": "\(record.id)", "user_id": "\(record.file.userID)"])
            throw GatewayError.dependencyUnavailable("The file's content cannot be read right now.")
        }
        return bytes
    }

    /// Deletes the record, then the bytes; nil when the user has no such file.
    func delete(id: Int64, userID: Int64) async throws -> UserFileRecord? {
        guard let record = try await store.deleteUserFile(id: id, userID: userID) else { return nil }
        await removeBytes(record.file.storageKey)
        return record
    }

    /// Bytes no record names any more; left behind (and logged) when the storage refuses.
    private func removeBytes(_ key: String) async {
        do { try await storage.delete(key: key) } catch {
            logger.warning("file bytes left in storage", metadata: ["storage_key": "\(key)", "error": "\(error)"])
        }
    }

    private func storageFailed(_ error: any Error, doing action: String) -> GatewayError {
        logger.error("file storage failed", metadata: ["action": "\(action)", "error": "\(error)"])
        return GatewayError.dependencyUnavailable("The gateway cannot reach its file storage right now.")
    }

    static func tooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: 413, type: "invalid_request_error", code: "file_too_large", param: "file",
            message: "The file is larger than the limit of \(limit) bytes.", shouldRetry: false)
    }

    static func overQuota(used: Int64, quota: Int64) -> GatewayError {
        GatewayError(
            status: 409, type: "invalid_request_error", code: "file_quota_exceeded",
            message: "The file does not fit in your storage quota: \(used) of \(quota) bytes are used. Delete files to make room.",
            shouldRetry: false)
    }
}

extension Digest {
    /// Lowercase hex, as the store keeps hashes.
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
