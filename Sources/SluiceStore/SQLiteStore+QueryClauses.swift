import Foundation
import GRDB
import SluiceCore

/// SQL fragments the list queries share: time ranges and pages.
extension SQLiteStore {
    /// `AND id < ?` for a cursor, then newest first with limit and offset.
    static func paging(_ page: PageRequest, arguments: inout StatementArguments) -> String {
        var sql = ""
        if let before = page.beforeID {
            sql += " AND id < ?"
            _ = arguments.append(contentsOf: [before])
        }
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        _ = arguments.append(contentsOf: [page.limit, page.offset])
        return sql
    }

    /// `created_at` from (inclusive) and to (exclusive).
    static func timeRange(from: Date?, to: Date?, arguments: inout StatementArguments) -> String {
        var sql = ""
        if let from {
            sql += " AND created_at >= ?"
            _ = arguments.append(contentsOf: [from.unixMillis])
        }
        if let to {
            sql += " AND created_at < ?"
            _ = arguments.append(contentsOf: [to.unixMillis])
        }
        return sql
    }
}
