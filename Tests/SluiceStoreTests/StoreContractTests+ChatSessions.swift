import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// Chat sessions and their messages, the same on every store.
@Suite struct ChatSessionContractTests {
    @Test(arguments: StoreBackend.available)
    func concurrentAppendsLeaveExactTotals(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let session = try await store.createChatSession(userID: user, title: "t", metadata: nil, at: Date())
            // 50 appends at once, each of one message with its own tokens and cost.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 1...50 {
                    group.addTask {
                        let message = NewChatMessage(role: "user", content: "m\(n)", tokens: n, cost: Credits(micros: Int64(n) * 1_001))
                        let appended = try await store.appendChatMessages(sessionID: session.id, userID: user, [message], at: Date())
                        #expect(appended?.added.count == 1)
                    }
                }
                try await group.waitForAll()
            }
            let totals = try #require(try await store.chatSession(id: session.id, userID: user))
            #expect(totals.messageCount == 50)
            #expect(totals.totalTokens == (1...50).reduce(0, +))
            #expect(totals.totalCost == Credits(micros: Int64((1...50).reduce(0, +)) * 1_001))
            let messages = try #require(try await store.chatMessages(sessionID: session.id, userID: user, afterID: nil, limit: 200))
            #expect(messages.count == 50)
            #expect(Set(messages.map(\.message.content)).count == 50)
        }
    }

    @Test(arguments: StoreBackend.available)
    func anotherUsersSessionDoesNotExistForThem(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let alice = try await store.createUser(email: "a@x", initialCredits: .zero)
            let bob = try await store.createUser(email: "b@x", initialCredits: .zero)
            let session = try await store.createChatSession(userID: alice, title: "mine", metadata: #"{"k":1}"#, at: Date())
            #expect(try await store.chatSession(id: session.id, userID: bob) == nil)
            #expect(try await store.updateChatSession(id: session.id, userID: bob, ChatSessionUpdate(status: .archived)) == nil)
            #expect(try await store.appendChatMessages(sessionID: session.id, userID: bob, [NewChatMessage(role: "user", content: "x")], at: Date()) == nil)
            #expect(try await store.chatMessages(sessionID: session.id, userID: bob, afterID: nil, limit: 10) == nil)
            #expect(try await store.deleteChatSession(id: session.id, userID: bob) == false)
            #expect(try await store.chatSessions(userID: bob, status: nil, page: PageRequest()).isEmpty)
            // Alice's is untouched.
            let kept = try #require(try await store.chatSession(id: session.id, userID: alice))
            #expect(kept.status == .active && kept.messageCount == 0 && kept.metadata == #"{"k":1}"#)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aRequestsMessagesAreAddedOncePerRole(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let session = try await store.createChatSession(userID: user, title: "t", metadata: nil, at: Date())
            let exchange = [
                NewChatMessage(role: "user", content: "q", tokens: 3, requestID: "req-1"),
                NewChatMessage(role: "assistant", content: "a", tokens: 5, cost: Credits(micros: 70), requestID: "req-1"),
            ]
            let first = try #require(try await store.appendChatMessages(sessionID: session.id, userID: user, exchange, at: Date()))
            #expect(first.added.count == 2 && first.session.messageCount == 2 && first.session.totalTokens == 8)
            // The same request again (a retried write) adds nothing and counts nothing.
            let again = try #require(try await store.appendChatMessages(sessionID: session.id, userID: user, exchange, at: Date()))
            #expect(again.added.isEmpty)
            #expect(again.session.messageCount == 2 && again.session.totalTokens == 8 && again.session.totalCost == Credits(micros: 70))
            // Messages without a request id are never taken for repeats.
            let plain = [NewChatMessage(role: "user", content: "same"), NewChatMessage(role: "user", content: "same")]
            #expect(try await store.appendChatMessages(sessionID: session.id, userID: user, plain, at: Date())?.added.count == 2)
        }
    }

    @Test(arguments: StoreBackend.available)
    func sessionsArePagedFilteredUpdatedAndDeletedWithTheirMessages(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            var ids: [Int64] = []
            for n in 0..<5 { ids.append(try await store.createChatSession(userID: user, title: "s\(n)", metadata: nil, at: Date()).id) }
            let firstPage = try await store.chatSessions(userID: user, status: nil, page: PageRequest(limit: 2))
            #expect(firstPage.map(\.id) == [ids[4], ids[3]])
            let secondPage = try await store.chatSessions(userID: user, status: nil, page: PageRequest(limit: 2, beforeID: ids[3]))
            #expect(secondPage.map(\.id) == [ids[2], ids[1]])

            let archived = try #require(try await store.updateChatSession(id: ids[1], userID: user, ChatSessionUpdate(status: .archived)))
            #expect(archived.status == .archived && archived.title == "s1")
            #expect(try await store.chatSessions(userID: user, status: .archived, page: PageRequest()).map(\.id) == [ids[1]])
            #expect(try await store.chatSessions(userID: user, status: .active, page: PageRequest()).count == 4)
            let renamed = try #require(try await store.updateChatSession(id: ids[1], userID: user, ChatSessionUpdate(title: "new", metadata: "{}")))
            #expect(renamed.title == "new" && renamed.status == .archived && renamed.metadata == "{}")

            let later = Date().addingTimeInterval(60)
            let messages = (0..<3).map { NewChatMessage(role: "user", content: "m\($0)") }
            let appended = try #require(try await store.appendChatMessages(sessionID: ids[0], userID: user, messages, at: later))
            #expect(appended.session.lastActivity.timeIntervalSince1970.rounded() == later.timeIntervalSince1970.rounded())
            let page = try #require(try await store.chatMessages(sessionID: ids[0], userID: user, afterID: appended.added[0].id, limit: 1))
            #expect(page.map(\.message.content) == ["m1"])

            #expect(try await store.deleteChatSession(id: ids[0], userID: user))
            #expect(try await store.chatSession(id: ids[0], userID: user) == nil)
            #expect(try await store.chatMessages(sessionID: ids[0], userID: user, afterID: nil, limit: 10) == nil)
            #expect(try await store.deleteChatSession(id: ids[0], userID: user) == false)
        }
    }
}
