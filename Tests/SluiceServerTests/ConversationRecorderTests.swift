import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
@testable import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// The recorder on its own: what it reads out of an exchange, its bounded queue, and the drain
/// on shutdown.
@Suite struct ConversationRecorderTests {
    static func exchange(session: Int64, user: Int64, _ request: String, answer: ConversationRecorder.Answer) -> ConversationRecorder.Exchange {
        .init(
            sessionID: session, userID: user, requestID: "req-\(UUID().uuidString)", model: "m", servedModel: "m-2024", request: Data(request.utf8),
            answer: answer, usage: TokenUsage(promptTokens: 7, completionTokens: 3), cost: Credits(micros: 1234), at: Date())
    }

    @Test func theLastUserMessageAndTheAnswerAreReadFromTheExchange() {
        let request = #"{"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}},{"type":"text","text":"last"}]}]}"#
        let whole = #"{"choices":[{"index":0,"message":{"role":"assistant","content":"the answer"}}]}"#
        let messages = Transcript.messages(of: Self.exchange(session: 1, user: 1, request, answer: .completion(ByteBuffer(string: whole))))
        #expect(messages.map(\.role) == ["user", "assistant"])
        #expect(messages.map(\.content) == ["last", "the answer"])
        #expect(messages[0].tokens == 7 && messages[0].cost == .zero)
        #expect(messages[1].tokens == 3 && messages[1].cost == Credits(micros: 1234) && messages[1].metadata == #"{"model":"m-2024"}"#)
        // A request without a user message records the answer alone; a body that is no chat records nothing of it.
        #expect(Transcript.messages(of: Self.exchange(session: 1, user: 1, #"{"messages":[]}"#, answer: .streamed("s"))).map(\.role) == ["assistant"])
        #expect(Transcript.messages(of: Self.exchange(session: 1, user: 1, "not json", answer: .completion(ByteBuffer(string: "nope")))).isEmpty)
        // Text past the limit is cut at a character boundary.
        let long = String(repeating: "é", count: Transcript.maxContent)
        let clipped = Transcript.clipped(long)
        #expect(clipped.utf8.count <= Transcript.maxContent && clipped.utf8.count >= Transcript.maxContent - 1 && clipped.allSatisfy { $0 == "é" })
    }

    @Test func aFullQueueDropsWhatComesAndShutdownWritesWhatIsQueued() async throws {
        try await withStore(.sqlite) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let session = try await store.createChatSession(userID: user, title: "t", metadata: nil, at: Date())
            let recorder = ConversationRecorder(store: store, capacity: 2, logger: Logger(label: "test"))
            let request = #"{"messages":[{"role":"user","content":"q"}]}"#
            // Queued before the recorder runs: two fit, the third is dropped rather than held.
            for _ in 0..<3 { recorder.record(Self.exchange(session: session.id, user: user, request, answer: .streamed("a"))) }
            let group = ServiceGroup(configuration: .init(services: [recorder], logger: Logger(label: "test")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            let recorded = try #require(try await store.chatSession(id: session.id, userID: user))
            #expect(recorded.messageCount == 4, "two exchanges of two messages")
            #expect(recorded.totalCost == Credits(micros: 2468))
        }
    }
}
