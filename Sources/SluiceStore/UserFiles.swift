import Foundation
import SluiceCore

/// What the store keeps of users' uploaded files: their names and hashes, not their bytes (those
/// are in a `FileStorage`, under a key Sluice made). Every call names the user: another user's
/// file is the same as one that does not exist.
public protocol UserFileStore: Sendable {
    /// Adds the file unless it would take the user's files past `quotaBytes`; the check and the
    /// insert are one transaction, so concurrent uploads cannot both slip under the quota.
    func addUserFile(_ file: NewUserFile, quotaBytes: Int64, at: Date) async throws -> UserFileAddition
    /// Newest first, `page.beforeID` being the last id of the previous page.
    func userFiles(userID: Int64, page: PageRequest) async throws -> [UserFileRecord]
    func userFile(id: Int64, userID: Int64) async throws -> UserFileRecord?
    /// Removes the record and returns it, so its bytes can be deleted; nil when there is none.
    func deleteUserFile(id: Int64, userID: Int64) async throws -> UserFileRecord?
    /// The bytes the user's files take.
    func userFileBytes(userID: Int64) async throws -> Int64
}

public struct NewUserFile: Sendable, Equatable {
    public var userID: Int64
    /// The name the user gave it; shown and sent back, never used as a path.
    public var name: String
    public var contentType: String
    public var size: Int64
    /// Lowercase hex SHA-256 of the content.
    public var sha256: String
    /// Where the bytes are in the file storage.
    public var storageKey: String

    public init(userID: Int64, name: String, contentType: String, size: Int64, sha256: String, storageKey: String) {
        self.userID = userID
        self.name = name
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.storageKey = storageKey
    }
}

public struct UserFileRecord: Sendable, Equatable {
    public var id: Int64
    public var file: NewUserFile
    public var createdAt: Date
}

public enum UserFileAddition: Sendable, Equatable {
    case added(UserFileRecord)
    /// The user's files already take `usedBytes`; this one does not fit.
    case overQuota(usedBytes: Int64)
}

extension UserFileRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"),
            file: NewUserFile(
                userID: try row.int(required: "user_id"), name: try row.text(required: "name"), contentType: try row.text(required: "content_type"),
                size: try row.int(required: "size_bytes"), sha256: try row.text(required: "sha256"), storageKey: try row.text(required: "storage_key")),
            createdAt: try row.date(required: "created_at"))
    }
}
