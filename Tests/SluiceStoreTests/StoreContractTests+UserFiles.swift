import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// Users' file records, the same on every store.
@Suite struct UserFileContractTests {
    func file(_ n: Int, user: Int64, size: Int64 = 10) -> NewUserFile {
        NewUserFile(userID: user, name: "f\(n).txt", contentType: "text/plain", size: size, sha256: String(repeating: "a", count: 64), storageKey: "k\(user)-\(n)")
    }

    @Test(arguments: StoreBackend.available)
    func concurrentUploadsNeverPassTheQuota(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let other = try await store.createUser(email: "b@x", initialCredits: .zero)
            // 25 uploads of 10 bytes at once against a quota of 100: exactly ten fit.
            let results = try await withThrowingTaskGroup(of: UserFileAddition.self) { group in
                for n in 0..<25 { group.addTask { try await store.addUserFile(file(n, user: user), quotaBytes: 100, at: Date()) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { if case .added = $0 { true } else { false } }.count == 10)
            #expect(results.contains(.overQuota(usedBytes: 100)))
            #expect(try await store.userFileBytes(userID: user) == 100)
            // Another user's quota is their own.
            guard case .added = try await store.addUserFile(file(99, user: other), quotaBytes: 100, at: Date()) else {
                Issue.record("the other user's upload was refused")
                return
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func filesAreTheirOwnersAlone(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let alice = try await store.createUser(email: "a@x", initialCredits: .zero)
            let bob = try await store.createUser(email: "b@x", initialCredits: .zero)
            guard case .added(let record) = try await store.addUserFile(file(1, user: alice, size: 7), quotaBytes: 1000, at: Date()) else {
                Issue.record("not added")
                return
            }
            #expect(record.file.size == 7 && record.file.name == "f1.txt")
            _ = try await store.addUserFile(file(2, user: alice), quotaBytes: 1000, at: Date())
            #expect(try await store.userFile(id: record.id, userID: bob) == nil)
            #expect(try await store.deleteUserFile(id: record.id, userID: bob) == nil)
            #expect(try await store.userFiles(userID: bob, page: PageRequest()).isEmpty)
            let page = try await store.userFiles(userID: alice, page: PageRequest(limit: 1))
            #expect(page.map(\.file.name) == ["f2.txt"])
            #expect(try await store.userFiles(userID: alice, page: PageRequest(beforeID: page[0].id)).map(\.id) == [record.id])

            #expect(try await store.deleteUserFile(id: record.id, userID: alice) == record)
            #expect(try await store.userFile(id: record.id, userID: alice) == nil)
            #expect(try await store.userFileBytes(userID: alice) == 10)
        }
    }
}
