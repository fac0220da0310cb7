import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/files`: a user's files. Another user's file is a 404 like one that does not exist.
struct FileRoutes {
    let files: UserFiles

    static let fileSchema = Schema.object([
        ("id", .integer), ("name", .text), ("content_type", .text), ("size", .integer), ("sha256", .text), ("created_at", .time),
    ])
    static let notFound = GatewayError.notFound("No such file.")

    func register(on registry: EndpointRegistry) {
        let path = "/api/files"
        registry.user(
            Endpoint(
                method: .post, path: path,
                summary: "Upload a file as multipart/form-data, in a part named `file`; its filename and Content-Type are kept.",
                request: .object([("file", .string(format: "binary"))], required: ["file"]), requestMediaType: "multipart/form-data",
                status: 201, response: Self.fileSchema, errors: [409, 413, 503], tag: "files"), upload)
        registry.user(
            Endpoint(
                method: .get, path: path, summary: "Your files, newest first.", query: QueryParameters.pageParameters,
                response: .object([("data", .array(Self.fileSchema)), ("next_cursor", .nullable(.integer))]), tag: "files"), list)
        registry.user(
            Endpoint(
                method: .get, path: "\(path)/quota", summary: "What your files take, and what they may.",
                response: .object([("used_bytes", .integer), ("quota_bytes", .integer), ("max_file_bytes", .integer)]), tag: "files"), quota)
        registry.user(Endpoint(method: .get, path: "\(path)/{id}", summary: "One file's name, size and hash.", response: Self.fileSchema, tag: "files"), show)
        registry.user(
            Endpoint(
                method: .get, path: "\(path)/{id}/content", summary: "The file's bytes, as an attachment.", response: .string(format: "binary"),
                responseMediaType: "application/octet-stream", errors: [503], tag: "files"), download)
        registry.user(Endpoint(method: .delete, path: "\(path)/{id}", summary: "Delete a file.", status: 204, tag: "files"), delete)
    }

    @Sendable func upload(_ request: Request, context: UserContext) async throws -> Response {
        let upload = try await UploadedFile.read(request, maxBytes: files.maxFileBytes)
        return try APIJSON.response(FileView(try await files.add(upload, userID: context.user.id)), status: .created)
    }

    @Sendable func list(_ request: Request, context: UserContext) async throws -> Response {
        let page = try QueryParameters(request).page()
        let records = try await files.store.userFiles(userID: context.user.id, page: page)
        return try APIJSON.response(Page(records.map(FileView.init), limit: page.limit, id: \.id))
    }

    @Sendable func quota(_ request: Request, context: UserContext) async throws -> Response {
        struct Quota: Encodable {
            var usedBytes: Int64
            var quotaBytes: Int64
            var maxFileBytes: Int
        }
        let used = try await files.store.userFileBytes(userID: context.user.id)
        return try APIJSON.response(Quota(usedBytes: used, quotaBytes: files.quotaBytes, maxFileBytes: files.maxFileBytes))
    }

    @Sendable func show(_ request: Request, context: UserContext) async throws -> Response {
        guard let record = try await files.store.userFile(id: try APIServices.id(context), userID: context.user.id) else { throw Self.notFound }
        return try APIJSON.response(FileView(record))
    }

    @Sendable func download(_ request: Request, context: UserContext) async throws -> Response {
        guard let record = try await files.store.userFile(id: try APIServices.id(context), userID: context.user.id) else { throw Self.notFound }
        let bytes = try await files.content(of: record)
        // Always an attachment of no particular type: a file someone uploaded is never rendered
        // as a page of this origin.
        let headers: HTTPFields = [
            .contentType: "application/octet-stream", .contentDisposition: Self.disposition(record.file.name),
            .xContentTypeOptions: "nosniff", .eTag: "\"\(record.file.sha256)\"",
        ]
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }

    @Sendable func delete(_ request: Request, context: UserContext) async throws -> Response {
        guard try await files.delete(id: try APIServices.id(context), userID: context.user.id) != nil else { throw Self.notFound }
        return APIJSON.noContent()
    }

    /// `attachment` with the name twice: plain ASCII for old clients, and RFC 5987's UTF-8 form.
    static func disposition(_ name: String) -> String {
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 ? Character($0) : "_" })
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}

struct FileView: Encodable {
    var id: Int64
    var name: String
    var contentType: String
    var size: Int64
    var sha256: String
    var createdAt: Date

    init(_ record: UserFileRecord) {
        id = record.id
        name = record.file.name
        contentType = record.file.contentType
        size = record.file.size
        sha256 = record.file.sha256
        createdAt = record.createdAt
    }
}
