import Foundation
import SluiceCore

/// OpenAI's `/v1/embeddings` as Gemini's `batchEmbedContents`: each input a request, each
/// embedding back in OpenAI's list, as floats or, when the client asked (the OpenAI SDKs do by
/// default), base64 of little-endian float32s. Gemini reports no tokens for embeddings, so the
/// answer's usage, and the charge, is the input's estimate (`TokenEstimate`), as its hold was.
enum GeminiEmbeddings {
    static func request(_ body: Data, model: String) throws(GatewayError) -> Data {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidRequest("The request body must be a JSON object.")
        }
        let inputs: [String]
        if let text = object["input"] as? String {
            inputs = [text]
        } else if let texts = object["input"] as? [String] {
            inputs = texts
        } else {
            throw .invalidRequest("This model's provider embeds text: 'input' must be a string or a list of strings.", param: "input")
        }
        let requests = inputs.map { text -> [String: Any] in
            var request: [String: Any] = ["model": "models/\(model)", "content": ["parts": [["text": text]]]]
            if let dimensions = object["dimensions"] as? Int { request["outputDimensionality"] = dimensions }
            return request
        }
        guard let data = try? JSONText.data(["requests": requests]) else {
            throw .invalidRequest("The request could not be translated.")
        }
        return data
    }

    /// OpenAI's answer for Gemini's; nil when the body is not one.
    static func answer(_ body: Data, request: Data, model: String) -> (body: Data, usage: TokenUsage)? {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              let embeddings = object["embeddings"] as? [[String: Any]]
        else { return nil }
        let client = (try? JSONSerialization.jsonObject(with: request)) as? [String: Any]
        let base64 = client?["encoding_format"] as? String == "base64"
        let data = embeddings.enumerated().map { index, embedding -> [String: Any] in
            let values = (embedding["values"] as? [NSNumber] ?? []).map(\.floatValue)
            let vector: Any = base64 ? Self.base64(values) : values.map(Double.init)
            return ["object": "embedding", "index": index, "embedding": vector]
        }
        let tokens = TokenEstimate.promptTokens(bodyBytes: request.count)
        let usage = TokenUsage(promptTokens: tokens, completionTokens: 0)
        let out: [String: Any] = ["object": "list", "data": data, "model": model, "usage": ["prompt_tokens": tokens, "total_tokens": tokens]]
        guard let encoded = try? JSONText.data(out) else { return nil }
        return (encoded, usage)
    }

    static func base64(_ values: [Float]) -> String {
        var bytes = Data(capacity: values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes.base64EncodedString()
    }
}
