import Foundation
import GRDB

/// SQLite's rows: GRDB converts INTEGER to Bool, and reads NULL as nil.
extension Row: StoreRow {
    func int(_ column: String) throws -> Int64? { try decode(Int64?.self, forColumn: column) }
    func text(_ column: String) throws -> String? { try decode(String?.self, forColumn: column) }
    func bool(_ column: String) throws -> Bool? { try decode(Bool?.self, forColumn: column) }
    func bytes(_ column: String) throws -> Data? { try decode(Data?.self, forColumn: column) }
}
