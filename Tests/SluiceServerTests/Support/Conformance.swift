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
    static func errors(_ items: [(schema: String, body: Data)]) throws -> [String] {
        try runValidator(items)
    }

    private static func runValidator(_ items: [(schema: String, body: Data)]) throws -> [String] {
        let lines = try items.map { item -> String in
            let body = try JSONSerialization.jsonObject(with: item.body, options: [.fragmentsAllowed])
            let line = try JSONSerialization.data(withJSONObject: ["schema": item.schema, "body": body])
            return String(decoding: line, as: UTF8.self)
        }
        let (status, text) = try runPython(script, arguments: [specDirectory.path], input: Data(lines.joined(separator: "\n").utf8))
        guard status == 0 else { return ["validator failed (\(status)): \(text)"] }
        return text.split(separator: "\n").map(String.init)
    }

    static func expectValid(_ items: [(schema: String, body: Data)], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let problems = try errors(items)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
    }
}

/// Validates provider-native bodies with the official SDKs' typed models: what Sluice sends
/// upstream, and what the mocks answer, so the mocks cannot drift from the real APIs. Kinds are
/// the scripts' own (`Tests/conformance/validate_anthropic.py`, `validate_gemini.py`).
enum NativeSchema: String {
    case anthropic, gemini

    var script: URL { Harness.repoRoot.appendingPathComponent("Tests/conformance/validate_\(rawValue).py") }

    func expectValid(_ items: [(kind: String, body: Data)], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let lines = try items.map { item -> String in
            let body = try JSONSerialization.jsonObject(with: item.body)
            return String(decoding: try JSONSerialization.data(withJSONObject: ["type": item.kind, "body": body]), as: UTF8.self)
        }
        let (status, text) = try runPython(script, arguments: [], input: Data(lines.joined(separator: "\n").utf8))
        #expect(status == 0 && text.isEmpty, "\(text)", sourceLocation: sourceLocation)
    }
}

/// Runs a Python script with `input` on standard input; returns its exit status and its output.
func runPython(_ script: URL, arguments: [String], input: Data) throws -> (status: Int32, output: String) {
    // Files, not pipes: a pipe needs a reader draining it while the child runs, a file does not.
    let base = NSTemporaryDirectory() + "sluice-python-\(UUID().uuidString)"
    let inputURL = URL(fileURLWithPath: base + ".in"), outputURL = URL(fileURLWithPath: base + ".out")
    defer { try? FileManager.default.removeItem(at: inputURL); try? FileManager.default.removeItem(at: outputURL) }
    try input.write(to: inputURL)
    let status = try ChildProcess.run("/usr/bin/env", ["python3", script.path] + arguments, input: inputURL.path, output: outputURL.path)
    return (status, String(decoding: try Data(contentsOf: outputURL), as: UTF8.self))
}

/// Runs a Python script that talks to a gateway in this process: its exit status and standard
/// output. Polled rather than waited on, so the gateway keeps every thread of the pool while the
/// script talks to it; killed after `limit`.
func runPythonClient(
    _ script: URL, arguments: [String], environment: [String: String]? = nil, limit: Duration = .seconds(120)
) async throws -> (status: Int32, output: String) {
    let output = NSTemporaryDirectory() + "sluice-python-\(UUID().uuidString).out"
    defer { try? FileManager.default.removeItem(atPath: output) }
    let child = try ChildProcess(
        "/usr/bin/env", ["python3", script.path] + arguments, environment: environment, directory: Harness.repoRoot.path, output: output,
        errors: "/dev/null")
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
}
