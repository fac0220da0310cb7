import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The mock's embeddings: OpenAI's `POST /v1/embeddings` and Gemini's
/// `models/{model}:batchEmbedContents`. Every input embeds to `vector`; OpenAI's answer counts
/// `tokensPerInput` tokens an input, Gemini's none, as Gemini's own does not.
extension MockUpstream {
    public static let vector: [Float] = [0.25, -0.5, 1]
    public static let tokensPerInput = 5

    static func embeddings(_ request: Request, control: MockControl) async throws -> Response {
        var request = request
        let data = Data(buffer: try await request.collectBody(upTo: 16 << 20))
        let authorization = request.headers[.authorization]
        control.record(.init(authorization: authorization, apiKeyHeader: nil, cookie: nil, body: data))
        if case .fail(let status, _) = control.behavior(for: authorization.map { String($0.dropFirst("Bearer ".count)) }) {
            return json(status, #"{"error":{"message":"mock upstream failure","type":"server_error","param":null,"code":null}}"#)
        }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let inputs = (object["input"] as? [Any])?.count ?? 1
        let base64 = object["encoding_format"] as? String == "base64"
        let embedding: Any = base64 ? vectorBase64 : vector.map(Double.init)
        let answer: [String: Any] = [
            "object": "list", "model": object["model"] ?? "",
            "data": (0..<inputs).map { ["object": "embedding", "index": $0, "embedding": embedding] },
            "usage": ["prompt_tokens": inputs * tokensPerInput, "total_tokens": inputs * tokensPerInput],
        ]
        return json(200, String(decoding: try JSONSerialization.data(withJSONObject: answer), as: UTF8.self))
    }

    static func batchEmbedContents(_ request: Request, control: MockControl) async throws -> Response {
        var request = request
        let data = Data(buffer: try await request.collectBody(upTo: 16 << 20))
        let apiKey = request.headers[HTTPField.Name("x-goog-api-key")!]
        control.record(.init(authorization: request.headers[.authorization], apiKeyHeader: apiKey, cookie: nil, body: data))
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        guard let requests = object["requests"] as? [[String: Any]], !requests.isEmpty else {
            return json(400, googleError(400, "INVALID_ARGUMENT", "requests is required"))
        }
        let embeddings = requests.map { _ in ["values": vector.map(Double.init)] }
        return json(200, String(decoding: try JSONSerialization.data(withJSONObject: ["embeddings": embeddings]), as: UTF8.self))
    }

    static var vectorBase64: String {
        var bytes = Data()
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes.base64EncodedString()
    }
}
