import Foundation
import SluiceTestSupport
import Testing
@testable import SluiceCore

/// The hand-written reader against `JSONDecoder` (the reference parsers), on hand-picked bodies and
/// on thousands of seeded mutations of them: same summary, or same error naming the same parameter.
@Suite struct JSONReaderTests {
    static let requests = [
        #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        #"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"system","content":[{"type":"text","text":"be brief"},{"type":"text","text":"really"}]},{"role":"user","content":"other"}],"max_completion_tokens":20,"user":"u-1"}"#,
        #" { "messages" : [ { "content" : "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \n\t", "role" : "user" } ] , "model" : "m\u0041" , "max_tokens" : 7 } "#,
        #"{"model":"m","messages":[{"role":"user","content":null,"name":"n"}],"stream":null,"max_tokens":null,"user":null,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"number","minimum":-1.5e-3}}}}}],"temperature":0.7,"n":1,"logit_bias":{"50256":-100},"stop":["\n"],"seed":-42,"x":[true,false,null,[],{}]}"#,
        #"{"model":"ünïcødé","messages":[{"role":"user","content":"日本語のテキスト"}],"stream":false}"#,
        #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}}]}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":null},"bad"]}]}"#,
        #"{"model":"m","messages":[]}"#,
        #"{"model":"","messages":[{"role":"user"}]}"#,
        #"{"messages":[{"role":"user"}]}"#,
        #"{"model":"m"}"#,
        #"{"model":5,"messages":[{"role":"user"}]}"#,
        #"{"model":"m","messages":{"role":"user"}}"#,
        #"{"model":"m","messages":[{"role":"user"},"x"]}"#,
        #"{"model":"m","messages":[{"role":"user"},{"content":"x"}]}"#,
        #"{"model":"m","messages":[{"role":"user"},{"role":3}]}"#,
        #"{"model":"m","messages":[{"role":"user"},null]}"#,
        #"{"model":"m","messages":[{"role":"user"}],"stream":"yes"}"#,
        #"{"model":"m","messages":[{"role":"user"}],"stream_options":{"include_usage":1}}"#,
        #"{"model":"m","messages":[{"role":"user"}],"stream_options":[]}"#,
        #"{"model":"m","messages":[{"role":"user"}],"max_tokens":0}"#,
        #"{"model":"m","messages":[{"role":"user"}],"max_tokens":1.5}"#,
        #"{"model":"m","messages":[{"role":"user"}],"max_tokens":"9"}"#,
        #"{"model":"m","messages":[{"role":"user"}],"max_completion_tokens":-1,"max_tokens":5}"#,
        #"{"model":"m","messages":[{"role":"user"}],"user":{"id":1}}"#,
        #"{"model":7,"messages":"none","stream":1,"user":2}"#,
        #"[1,2]"#, #""text""#, "null", "", "{", #"{"model":"m",}"#, #"{"model":"m" "messages":[]}"#,
        #"{"model":"a\u12"}"#, #"{"model":"\x"}"#, "{\"model\":\"tab\there\"}", #"{"n":01}"#, #"{"n":1.}"#, #"{"n":-}"#,
        #"{"n":1e}"#, #"{"n":tru}"#, #"{"a":1}x"#, #"{"a":[1,]}"#, #"{"a":{"b":}}"#,
    ]

    static let completions = [
        #"{"id":"c","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0}}}"#,
        #"{"usage":null}"#, #"{"choices":[]}"#, #"{"usage":{"prompt_tokens":null,"completion_tokens":2}}"#,
        #"{"usage":{"prompt_tokens":-5,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":9}}}"#,
        #"{"usage":{"prompt_tokens":"12"}}"#, #"{"usage":{"prompt_tokens":1.5}}"#, #"{"usage":{"prompt_tokens_details":[]}}"#,
        #"{"usage":[]}"#, #"{"usage":{"prompt_tokens_details":null,"prompt_tokens":1}}"#, "[]", "<html>", #"{"usage":{}"#, "",
    ]

    enum Outcome: Equatable {
        case summary(ChatRequestSummary)
        case refused(String)
    }

    static func outcome(_ parse: (Data) throws(GatewayError) -> ChatRequestSummary, _ body: Data) -> Outcome {
        do { return .summary(try parse(body)) } catch { return .refused(String(describing: error)) }
    }

    static let notJSON = String(describing: GatewayError.invalidRequest("We could not parse the JSON body of your request. It is not valid JSON."))

    /// Compares the reader with the reference on one body. JSONDecoder, and JSONSerialization on Linux,
    /// check only what they decode, so they let through bodies that are not JSON (`{"a":1,}`, `01`, a
    /// raw tab in a string); the reader refuses them, as an upstream would. Those bodies are returned,
    /// for a strict parser to confirm (`strictlyInvalid`), as are bodies JSONSerialization refuses and
    /// the reader accepts (JSONSerialization refuses escaped lone surrogates, which JSON allows). Elsewhere the reader must agree
    /// with JSONDecoder, except for two answers it gives better: a number field of the wrong type,
    /// which JSONDecoder reported as invalid JSON, is named; and a body that is JSON but not an object
    /// is refused as such, not with an empty parameter name.
    static func compare(_ body: Data, sourceLocation: SourceLocation = #_sourceLocation) -> (body: Data, refused: Bool)? {
        let text = String(decoding: body, as: UTF8.self)
        let reader = outcome(ChatRequestSummary.parse, body)
        let completion = ResponseInspection.completion(body)
        if reader == .refused(notJSON) {
            #expect(completion == .invalid, "\(text)", sourceLocation: sourceLocation)
            return (body, true)
        }
        #expect(completion == ReferenceCompletionReader.completion(body), "\(text)", sourceLocation: sourceLocation)
        let reference = outcome(ReferenceChatRequestParser.parse, body)
        guard let document = try? JSONSerialization.jsonObject(with: body, options: .fragmentsAllowed) else {
            return (body, false)
        }
        if !(document is [String: Any]) {
            #expect(reader == .refused(String(describing: GatewayError.invalidRequest("The request body must be a JSON object."))), "\(text)")
        } else if reference == .refused(notJSON), case .refused(let named) = reader, named.contains("Invalid type or value for") {
            return nil
        } else {
            #expect(reader == reference, "\(text)", sourceLocation: sourceLocation)
        }
        return nil
    }

    /// Which of `bodies` Python's json module, which is strict, also refuses: one process for all.
    static func strictlyInvalid(_ bodies: [Data]) throws -> [Bool] {
        let input = URL(fileURLWithPath: NSTemporaryDirectory() + "json-reader-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: input) }
        try Data(bodies.map { $0.base64EncodedString() }.joined(separator: "\n").utf8).write(to: input)
        let script = """
            import base64, json, sys
            def no_constants(name): raise ValueError(name)
            for line in open(sys.argv[1]).read().split("\\n"):
                try:
                    json.loads(base64.b64decode(line).decode("utf-8"), parse_constant=no_constants); print("valid")
                except ValueError:
                    print("invalid")
            """
        let output = input.path + ".out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        try ChildProcess.run("/usr/bin/env", ["python3", "-c", script, input.path], output: output, errors: "/dev/null")
        let verdicts = try Data(contentsOf: URL(fileURLWithPath: output))
        return String(decoding: verdicts, as: UTF8.self).split(separator: "\n").map { $0 == "invalid" }
    }

    /// The reader refused as invalid JSON exactly the bodies that Python's json module refuses.
    static func expectStrictParserAgrees(_ checks: [(body: Data, refused: Bool)]) throws {
        guard !checks.isEmpty else { return }
        let verdicts = try strictlyInvalid(checks.map(\.body))
        try #require(verdicts.count == checks.count)
        for (check, invalid) in zip(checks, verdicts) where invalid != check.refused {
            Issue.record("refused: \(check.refused), but Python's json says invalid: \(invalid): \(String(decoding: check.body, as: UTF8.self))")
        }
    }

    @Test(arguments: requests + completions)
    func readsAsJSONDecoderDid(_ body: String) throws {
        try Self.expectStrictParserAgrees(Self.compare(Data(body.utf8)).map { [$0] } ?? [])
    }

    /// The hand-picked bodies, mutated.
    @Test func mutatedBodiesReadAsJSONDecoderDid() throws {
        var checks: [(body: Data, refused: Bool)] = []
        var random = SplitMix(seed: 0x5eed_1e55)
        for (index, seed) in (Self.requests + Self.completions).enumerated() where !seed.isEmpty {
            let location = SourceLocation(fileID: #fileID, filePath: #filePath, line: index + 1, column: 1)
            for body in Self.mutations(of: seed, count: 400, using: &random) {
                if let check = Self.compare(body, sourceLocation: location) { checks.append(check) }
            }
        }
        try Self.expectStrictParserAgrees(checks)
    }

    /// `count` copies of `seed`, each with one to three bytes deleted, replaced or inserted, or a
    /// span duplicated, so that most are broken somewhere a hand-picked body is not.
    static func mutations(of seed: String, count: Int, using random: inout SplitMix) -> [Data] {
        let alphabet = Array(#"{}[]":,\ 0123456789.-+eEtrufalsn"/bu\#t"#.utf8) + [0x00, 0x7F, 0xC3, 0xA9, 0xFF, 0xE2, 0x82]
        return (0..<count).map { _ in
            var bytes = Array(seed.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = Int.random(in: 0..<max(1, bytes.count), using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0 where !bytes.isEmpty: bytes.remove(at: at)
                case 1 where !bytes.isEmpty: bytes[at] = alphabet.randomElement(using: &random)!
                case 2: bytes.insert(alphabet.randomElement(using: &random)!, at: min(at, bytes.count))
                default:
                    let end = min(bytes.count, at + Int.random(in: 1...8, using: &random))
                    bytes.insert(contentsOf: bytes[min(at, end)..<end], at: end)
                }
            }
            return Data(bytes)
        }
    }

    /// Documents nested past JSONDecoder's limit are refused rather than read recursively to a crash.
    @Test func deepNestingIsRefused() {
        let deep = #"{"model":"m","messages":[{"role":"user"}],"x":"# + String(repeating: "[", count: JSONReader.maximumDepth + 1) + "}"
        #expect(Self.outcome(ChatRequestSummary.parse, Data(deep.utf8)) == .refused(Self.notJSON))
    }
}

/// A value passed on as text (a tool call's arguments) loses the padding between its tokens and
/// nothing inside its strings.
@Suite struct JSONCompactTextTests {
    func compact(_ json: String) throws -> [String] {
        try Data(json.utf8).withUnsafeBytes { bytes in
            try JSONReader.read(bytes) { reader in
                var values: [String] = []
                _ = try reader.readArray { _, reader in values.append(try reader.readCompactText()) }
                return values
            }
        }
    }

    @Test func paddingGoesAndStringsStay() throws {
        #expect(try compact(#"[ { "a" : [ 1 , 2.50 ] ,"b\"" : " x  \\ y\t" } , "  s  " , null ,-0.5e+3 ]"#)
            == [#"{"a":[1,2.50],"b\"":" x  \\ y\t"}"#, #""  s  ""#, "null", "-0.5e+3"])
    }

    @Test func aBrokenValueIsASyntaxError() {
        #expect(throws: JSONReader.JSONSyntaxError.self) { try compact(#"[{"a" 1}]"#) }
    }
}
