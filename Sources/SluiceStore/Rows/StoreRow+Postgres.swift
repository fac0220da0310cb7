import Foundation
import PostgresNIO

/// PostgreSQL's rows, read by column name. postgres-nio traps on an unknown column; here that is
/// a thrown error instead, so a query that lost a column fails one request, not the process.
extension PostgresRandomAccessRow: StoreRow {
    func int(_ column: String) throws -> Int64? { try cell(column).decode(Int64?.self) }
    func text(_ column: String) throws -> String? { try cell(column).decode(String?.self) }
    func bool(_ column: String) throws -> Bool? { try cell(column).decode(Bool?.self) }
    func bytes(_ column: String) throws -> Data? { try cell(column).decode(Data?.self) }

    private func cell(_ column: String) throws -> PostgresCell {
        guard contains(column) else { throw StoreDecodingError(column: column) }
        return self[column]
    }
}
