import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import SluiceCore

/// The file of a `multipart/form-data` upload: the part named `file`, its name from the part's
/// `Content-Disposition` and its type from the part's `Content-Type`. The body is parsed as it
/// arrives, so an upload past the limit is refused once the limit is passed, not after the rest
/// has been read.
struct UploadedFile {
    var name: String
    var contentType: String
    var bytes: ByteBuffer

    /// The longest name kept, in bytes.
    static let maxName = 255

    static func read(_ request: Request, maxBytes: Int) async throws -> UploadedFile {
        guard let boundary = boundary(request.headers[.contentType]) else {
            throw GatewayError.invalidRequest("Send the file as multipart/form-data, in a part named `file`.", param: "file")
        }
        let form = FormCollector(maxBytes: maxBytes)
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in form.header(name, value) }
        parser.onBody = { chunk in form.body(&chunk) }
        parser.onPartComplete = { form.partComplete() }
        // The form around the file (boundaries, part headers, other fields) may add this much.
        let maxBody = maxBytes + 64 << 10
        var read = 0
        for try await chunk in request.body {
            read += chunk.readableBytes
            guard read <= maxBody else { throw UserFiles.tooLarge(limit: maxBytes) }
            do { try parser.execute(chunk) } catch {
                throw GatewayError.invalidRequest("The multipart body could not be parsed.", param: "file")
            }
            if form.tooLarge { throw UserFiles.tooLarge(limit: maxBytes) }
        }
        guard let file = form.file else {
            throw GatewayError.invalidRequest("The form has no complete part named `file`.", param: "file")
        }
        return UploadedFile(name: try checkedName(file.name), contentType: checkedType(file.contentType), bytes: file.bytes)
    }

    /// The boundary of a `multipart/form-data` content type.
    static func boundary(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() where part.lowercased().hasPrefix("boundary=") {
            let value = part.dropFirst("boundary=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            // RFC 2046: 1 to 70 characters.
            return (1...70).contains(value.count) ? value : nil
        }
        return nil
    }

    /// A name is shown and sent back, never used as a path, but one that looks like a path or
    /// holds control characters is refused all the same: it is a mistake or an attack.
    static func checkedName(_ name: String?) throws -> String {
        // A part without a filename (a program posting bytes) is named for what it is.
        guard let name else { return "upload" }
        let forbidden = name.unicodeScalars.contains { $0 == "/" || $0 == "\\" || $0.properties.generalCategory == .control }
        guard !forbidden, !name.isEmpty, name != ".", name != "..", name.utf8.count <= maxName else {
            throw GatewayError.invalidRequest(
                "The filename must be 1 to \(maxName) bytes, without a path, `/`, `\\` or control characters.", param: "file")
        }
        return name
    }

    /// The part's media type when it is one (`type/subtype`), else `application/octet-stream`.
    static func checkedType(_ type: String?) -> String {
        let plain = type?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let token = #"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$"#
        return plain.range(of: token, options: .regularExpression) != nil ? plain : "application/octet-stream"
    }

    /// `name` and `filename` from a `Content-Disposition` value; `filename*=UTF-8''…` (RFC 5987)
    /// wins when both are there. Quoted values may hold `;` and `\"`, as browsers send them.
    static func filename(inDisposition value: String) -> (name: String?, filename: String?) {
        var name: String?
        var plain: String?
        var extended: String?
        for (key, text) in parameters(of: value) {
            switch key {
            case "name": name = text
            case "filename": plain = text
            case "filename*":
                if text.lowercased().hasPrefix("utf-8''") { extended = String(text.dropFirst(7)).removingPercentEncoding }
            default: break
            }
        }
        return (name, extended ?? plain)
    }

    /// The `key=value` parameters after a header value's first `;`, keys lowercased, quoted
    /// values unquoted.
    static func parameters(of value: String) -> [(String, String)] {
        var parameters: [(String, String)] = []
        var scalars = Substring(value).unicodeScalars[...]
        // Skip the value itself (`form-data`).
        guard let first = scalars.firstIndex(of: ";") else { return [] }
        scalars = scalars[scalars.index(after: first)...]
        while !scalars.isEmpty {
            var key = ""
            while let c = scalars.first, c != "=", c != ";" { key.unicodeScalars.append(c); scalars.removeFirst() }
            var text = ""
            if scalars.first == "=" {
                scalars.removeFirst()
                while scalars.first == " " { scalars.removeFirst() }
                if scalars.first == "\"" {
                    scalars.removeFirst()
                    while let c = scalars.popFirst(), c != "\"" {
                        // `\"` is a quote; any other backslash is itself (browsers send a name's `\` as is).
                        if c == "\\", scalars.first == "\"" { text.unicodeScalars.append(scalars.removeFirst()) } else { text.unicodeScalars.append(c) }
                    }
                    scalars = scalars.drop { $0 != ";" }
                } else {
                    while let c = scalars.first, c != ";" { text.unicodeScalars.append(c); scalars.removeFirst() }
                    text = text.trimmingCharacters(in: .whitespaces)
                }
            }
            if scalars.first == ";" { scalars.removeFirst() }
            let trimmedKey = key.trimmingCharacters(in: .whitespaces).lowercased()
            if !trimmedKey.isEmpty { parameters.append((trimmedKey, text)) }
        }
        return parameters
    }
}

/// What the parser's callbacks collect: the parts' headers as they come, and the body of the
/// part named `file`. Lives within one `read` call.
private final class FormCollector {
    struct File {
        var name: String?
        var contentType: String?
        var bytes: ByteBuffer
    }

    let maxBytes: Int
    var headers: [(String, String)] = []
    var current: File?
    var file: File?
    var tooLarge = false

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    func header(_ name: String, _ value: String) { headers.append((name.lowercased(), value)) }

    /// The file, empty so far, when the part whose headers were just read is named `file`.
    private func fileStarting() -> File? {
        guard let disposition = headers.first(where: { $0.0 == "content-disposition" })?.1 else { return nil }
        let (name, filename) = UploadedFile.filename(inDisposition: disposition)
        guard name == "file" else { return nil }
        return File(name: filename, contentType: headers.first(where: { $0.0 == "content-type" })?.1, bytes: ByteBuffer())
    }

    func body(_ chunk: inout ByteBuffer) {
        if current == nil {
            guard let started = fileStarting() else { return }
            current = started
        }
        guard !tooLarge else { return }
        if (current?.bytes.readableBytes ?? 0) + chunk.readableBytes > maxBytes {
            tooLarge = true
            return
        }
        // Through the optional, in place: a copy taken out and put back would copy the buffer.
        current?.bytes.writeBuffer(&chunk)
    }

    func partComplete() {
        // An empty file's part has no body for `body` to see.
        if file == nil { file = current ?? fileStarting() }
        current = nil
        headers.removeAll()
    }
}
