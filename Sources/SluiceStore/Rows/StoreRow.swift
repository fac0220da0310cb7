import Foundation
import SluiceCore

/// One result row, as both stores read it. SQLite and PostgreSQL hand back rows of different
/// types; behind this protocol the records are built from a row by one piece of code, so the two
/// stores cannot come to disagree about what a column means.
///
/// Each accessor returns nil for SQL NULL. Integers are 64-bit, times are Unix milliseconds.
protocol StoreRow {
    func int(_ column: String) throws -> Int64?
    func text(_ column: String) throws -> String?
    func bool(_ column: String) throws -> Bool?
    func bytes(_ column: String) throws -> Data?
}

/// A column that must hold a value held NULL or something of another type.
public struct StoreDecodingError: Error, CustomStringConvertible {
    public var column: String
    public var description: String { "stored row has no usable value in column \(column)" }
}

extension StoreRow {
    func int(required column: String) throws -> Int64 {
        guard let value = try int(column) else { throw StoreDecodingError(column: column) }
        return value
    }

    func text(required column: String) throws -> String {
        guard let value = try text(column) else { throw StoreDecodingError(column: column) }
        return value
    }

    func bool(required column: String) throws -> Bool {
        guard let value = try bool(column) else { throw StoreDecodingError(column: column) }
        return value
    }

    func date(_ column: String) throws -> Date? { try int(column).map(Date.init(unixMillis:)) }
    func date(required column: String) throws -> Date { Date(unixMillis: try int(required: column)) }
    func count(_ column: String) throws -> Int { Int(try int(column) ?? 0) }
}

/// Lists stored as JSON text (models, allowed models, networks), written the same way by both stores.
enum StoredJSON {
    static func text(_ strings: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(strings), as: UTF8.self)
    }
}
