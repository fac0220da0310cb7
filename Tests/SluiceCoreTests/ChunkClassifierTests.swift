import Foundation
import SluiceTestSupport
import Testing
@testable import SluiceCore

/// `ResponseInspection.classify` on the hand-written reader against the `JSONDecoder` code it
/// replaced, on hand-picked stream chunks and on seeded mutations of them, with and without the
/// output check. The two must agree, except where JSONDecoder read a chunk that is not JSON:
/// the reader calls that `.other`, and Python's strict `json` module must agree it is not JSON.
@Suite struct ChunkClassifierTests {
    static let chunks = [
        #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        #"{"id":"c","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1}}}"#,
        #"{"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":""}}]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#,
        #"{"choices":[{"index":0,"delta":{"function_call":{"name":"f"}}}]}"#,
        #"{"choices":[{"index":0,"delta":{"refusal":"no"}}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":null,"refusal":""}},{"index":1,"delta":{"content":"b"}}]}"#,
        #"{"choices":[{"index":0,"delta":null}]}"#, #"{"choices":null}"#, #"{"choices":[null]}"#, #"{"choices":{}}"#,
        #"{"error":{"message":"overloaded","type":"server_error"}}"#, #"{"error":null,"choices":[]}"#, #"{"error":"busy"}"#,
        #"{"choices":[{"index":0,"delta":{"content":"\"error\" and \"usage\" in text"}}]}"#,
        #"{"usage":{"prompt_tokens":"3"}}"#, #"{"usage":[]}"#, #"{"usage":{}}"#,
        #"{"choices":[{"delta":{"content":5}}]}"#, #"{"choices":[{"finish_reason":1}]}"#, #"{"choices":[{"delta":{"tool_calls":{}}}]}"#,
        "[DONE]", "[1]", "\"s\"", "<html>", "{}",
    ]

    /// nil when the two agree. Otherwise the chunk, and whether it must be invalid JSON for the
    /// disagreement to be right, for the strict parser to settle.
    static func compare(_ payload: Data, needOutputCheck: Bool) -> (body: Data, refused: Bool)? {
        let reader = ResponseInspection.classify(payload, needOutputCheck: needOutputCheck)
        let reference = ReferenceChunkClassifier.classify(payload, needOutputCheck: needOutputCheck)
        guard reader != reference ?? .other else { return nil }
        let text = String(decoding: payload, as: UTF8.self)
        guard reference != nil else {
            // JSONDecoder refuses a few documents that are JSON (escaped lone surrogates).
            return (payload, false)
        }
        // JSONDecoder read it: the reader may differ only by refusing a chunk that is not JSON.
        #expect(reader == .other, "reader \(reader), JSONDecoder \(String(describing: reference)): \(text)")
        return (payload, true)
    }

    @Test func handPickedChunksClassifyAsBefore() throws {
        try Self.check(Self.chunks.map { Data($0.utf8) })
    }

    @Test func mutatedChunksClassifyAsBefore() throws {
        var random = SplitMix(seed: 0xc4a7_c0de)
        try Self.check(Self.chunks.flatMap { JSONReaderTests.mutations(of: $0, count: 300, using: &random) })
    }

    /// Every disagreement is a chunk that is not JSON, which only the reader refused, or one that is
    /// JSON, which only JSONDecoder refused.
    static func check(_ payloads: [Data]) throws {
        var disputed: [(body: Data, refused: Bool)] = []
        for payload in payloads {
            for needOutputCheck in [true, false] {
                if let dispute = compare(payload, needOutputCheck: needOutputCheck) { disputed.append(dispute) }
            }
        }
        try JSONReaderTests.expectStrictParserAgrees(disputed)
    }

    @Test func edgesOfEachKind() {
        func classify(_ chunk: String, full: Bool = true) -> ResponseInspection.ChunkKind {
            ResponseInspection.classify(Data(chunk.utf8), needOutputCheck: full)
        }
        // The kinds `ResponseInspectionTests.kindsOfChunk` does not cover.
        #expect(classify(Self.chunks[1]) == .output)
        #expect(classify(Self.chunks[4]) == .usage(TokenUsage(promptTokens: 3, completionTokens: 1), hasChoices: true))
        #expect(classify(#"{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#) == .other)
        #expect(classify(#"{"error":null,"choices":[]}"#) == .other)
        #expect(classify(#"{"error":"busy"}"#) == .error)
        // Not JSON: relayed, never counted as usage.
        #expect(classify(#"{"choices":[],"usage":{"prompt_tokens":3,}}"#) == .other)
    }
}
