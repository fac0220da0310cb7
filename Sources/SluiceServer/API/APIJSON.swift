import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceStore

/// Reading and writing `/api` JSON: snake_case keys, ISO 8601 times, credits as decimal numbers.
enum APIJSON {
    static let maxBodyBytes = 64 << 10

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            guard let date = RFC3339Date.time(try container.decode(String.self)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "an RFC 3339 time such as 2026-11-01T12:00:00Z is required")
            }
            return date
        }
        return decoder
    }()

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }

    static func noContent() -> Response { Response(status: .noContent) }

    /// Whether a body `body(_:from:allowing:)` accepted names `field`, even as null: for fields
    /// where null means "remove" and absence means "keep".
    static func hasKey(_ field: String, in body: Data) -> Bool {
        ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?.keys.contains(field) ?? false
    }

    /// The body decoded as `T`, refusing fields `T` does not name: a client that sends `role` or
    /// `balance` where they are not accepted is told so, rather than silently ignored.
    static func body<T: Decodable>(_ type: T.Type, from request: Request, allowing fields: Set<String>) async throws -> (T, Data) {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maxBodyBytes)
        }
        let data = Data(buffer: buffer)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw GatewayError.invalidRequest("The request body must be a JSON object.")
        }
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw GatewayError.invalidRequest("Unknown or read-only field `\(unknown)`.", param: unknown, code: "unknown_field")
        }
        do {
            return (try decoder.decode(T.self, from: data), data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw GatewayError.invalidRequest("Missing required field `\(key.stringValue.snakeCased)`.", param: key.stringValue.snakeCased)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.last?.stringValue.snakeCased
            throw GatewayError.invalidRequest("Field `\(field ?? "?")` has the wrong type.", param: field)
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.last?.stringValue.snakeCased
            throw GatewayError.invalidRequest("Field `\(field ?? "?")` is not valid: \(context.debugDescription)", param: field)
        }
    }
}

extension String {
    var snakeCased: String {
        var out = ""
        for character in self {
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
        return out
    }
}

/// Credits in `/api` JSON: a decimal number such as `12.5`, exact to the micro-credit.
struct CreditAmount: Codable, Sendable, Equatable {
    var credits: Credits

    init(_ credits: Credits) { self.credits = credits }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Decimal keeps every digit of the JSON number; a string is accepted too.
        let text = try (try? container.decode(String.self)) ?? container.decode(Decimal.self).description
        guard let credits = Credits(decimal: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a decimal with at most 6 decimals is required")
        }
        self.credits = credits
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Decimal(string: credits.description) ?? 0)
    }
}

/// Query-string parameters, with clear errors for malformed ones.
struct QueryParameters {
    let parameters: Hummingbird.Parameters

    init(_ request: Request) { parameters = request.uri.queryParameters }

    func string(_ name: String) -> String? { parameters.get(name).flatMap { $0.isEmpty ? nil : $0 } }

    func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw GatewayError.invalidRequest("Query parameter `\(name)` must be an integer from \(range.lowerBound) to \(range.upperBound).", param: name)
        }
        return value
    }

    /// An RFC 3339 time or a date (`2026-11-01`, midnight UTC).
    func date(_ name: String) throws -> Date? {
        guard let text = string(name) else { return nil }
        if let date = RFC3339Date.time(text) ?? RFC3339Date.day(text) { return date }
        throw GatewayError.invalidRequest("Query parameter `\(name)` must be an RFC 3339 time or a date such as 2026-11-01.", param: name)
    }

    /// How `/openapi.json` describes what `page()` reads.
    static let pageParameters: [(String, Schema, String)] = [
        ("limit", .boundedInteger(1...200), "1-200, default 50."), ("offset", .boundedInteger(0...1_000_000), "Rows to skip."),
        ("cursor", .positiveInteger, "Rows older than this id."),
    ]

    /// `limit` (1–200, default 50), `offset`, and `cursor` (the last id of the previous page).
    func page() throws -> PageRequest {
        PageRequest(
            limit: try int("limit", in: 1...200) ?? 50, offset: try int("offset", in: 0...1_000_000) ?? 0,
            beforeID: try int("cursor", in: 1...Int.max).map(Int64.init))
    }
}

/// A list and, when it was full, the cursor for the next page.
struct Page<Item: Encodable>: Encodable {
    var data: [Item]
    var nextCursor: Int64?

    init(_ data: [Item], limit: Int, id: (Item) -> Int64) {
        self.data = data
        nextCursor = data.count == limit ? data.last.map(id) : nil
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(data, forKey: .data)
        try c.encode(nextCursor, forKey: .nextCursor)  // explicit null: the last page
    }

    enum CodingKeys: String, CodingKey { case data, nextCursor }
}
