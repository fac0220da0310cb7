import Foundation
import SluiceTestSupport
import Testing

/// Validates bodies against the official OpenAI schemas with `../shared/openai-spec/validate.py`.
///
/// The validator is Python (jsonschema); one process checks a whole batch. A missing validator is a
/// failure, not a skip: conformance is part of the suite.
enum OpenAISchema {
    static let specDirectory = Harness.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/openai-spec")
    static let script = Harness.repoRoot.appendingPathComponent("Tests/conformance/validate_bodies.py")

    /// Returns the schema errors of each `(schema, body)`; empty when everything conforms.
    static func errors(_ items: [(schema: String, body: Data)]) async throws -> [String] {
        try await runValidator(items)
    }

    private static func runValidator(_ items: [(schema: String, body: Data)]) async throws -> [String] {
        let lines = try items.map { item -> String in
            let body = try JSONSerialization.jsonObject(with: item.body, options: [.fragmentsAllowed])
            let line = try JSONSerialization.data(withJSONObject: ["schema": item.schema, "body": body])
            return String(decoding: line, as: UTF8.self)
        }
        let (status, text) = try await runPython(script, arguments: [specDirectory.path], input: Data(lines.joined(separator: "\n").utf8))
        guard status == 0 else { return ["validator failed (\(status)): \(text)"] }
        return text.split(separator: "\n").map(String.init)
    }

    static func expectValid(_ items: [(schema: String, body: Data)], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let problems = try await errors(items)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
    }
}

/// Validates provider-native bodies with the official SDKs' typed models: what Sluice sends
/// upstream, and what the mocks answer, so the mocks cannot drift from the real APIs. Kinds are
/// the scripts' own (`Tests/conformance/validate_anthropic.py`, `validate_gemini.py`,
/// `validate_openai_responses.py`).
enum NativeSchema: String {
    case anthropic, gemini
    case openAIResponses = "openai_responses"

    var script: URL { Harness.repoRoot.appendingPathComponent("Tests/conformance/validate_\(rawValue).py") }

    func expectValid(_ items: [(kind: String, body: Data)], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let lines = try items.map { item -> String in
            let body = try JSONSerialization.jsonObject(with: item.body)
            return String(decoding: try JSONSerialization.data(withJSONObject: ["type": item.kind, "body": body]), as: UTF8.self)
        }
        let (status, text) = try await runPython(script, arguments: [], input: Data(lines.joined(separator: "\n").utf8))
        #expect(status == 0 && text.isEmpty, "\(text)", sourceLocation: sourceLocation)
    }
}

/// Runs a Python script with `input` on standard input; returns its exit status and its output.
func runPython(_ script: URL, arguments: [String], input: Data) async throws -> (status: Int32, output: String) {
    // Files, not pipes: a pipe needs a reader draining it while the child runs, a file does not.
    let inputURL = URL(fileURLWithPath: NSTemporaryDirectory() + "sluice-python-\(UUID().uuidString).in")
    defer { try? FileManager.default.removeItem(at: inputURL) }
    try input.write(to: inputURL)
    // Its errors go to the output too: a traceback then shows in the test's failure.
    return try await runPythonClient(script, arguments: arguments, input: inputURL.path, errors: nil)
}

/// Python processes the suite runs at once. Each one imports the SDKs' typed models, a second of
/// a core; with two cores, a crowd of them starves the gateways under test into timeouts.
actor PythonSlots {
    static let shared = PythonSlots(count: 1)
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { free = count }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

/// Runs a Python script, perhaps one that talks to a gateway in this process: its exit status and
/// standard output. Polled rather than waited on, so the gateways keep every thread of the pool
/// while it runs; one at a time (`PythonSlots`); killed after `limit`.
func runPythonClient(
    _ script: URL, arguments: [String], environment: [String: String]? = nil, input: String = "/dev/null", errors: String? = "/dev/null",
    limit: Duration = .seconds(120)
) async throws -> (status: Int32, output: String) {
    await PythonSlots.shared.acquire()
    let result = await Result(catching: { () async throws -> (status: Int32, output: String) in
        let output = NSTemporaryDirectory() + "sluice-python-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let child = try ChildProcess(
            "/usr/bin/env", ["python3", script.path] + arguments, environment: environment, directory: Harness.repoRoot.path, input: input,
            output: output, errors: errors)
        let deadline = ContinuousClock.now + limit
        while child.isRunning {
            guard ContinuousClock.now < deadline else {
                child.signal(SIGKILL)
                Issue.record("\(script.lastPathComponent) did not finish in \(limit)")
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (child.waitUntilExit(), String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self))
    })
    await PythonSlots.shared.release()
    return try result.get()
}
