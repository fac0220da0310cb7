import Foundation
import SluiceCore

/// An OpenAI `chat.completion`, read in one pass over its bytes (`JSONReader`) for what a
/// Messages answer says: its first choice's message and finish reason. A `[String: Any]` tree
/// from `JSONSerialization` cost more than the rest of the translation (docs/benchmarks.md).
struct ChatCompletionReading {
    var id: String?
    var model: String?
    var finishReason: String?
    var content: String?
    var reasoning: String?
    var toolCalls: [(id: String?, name: String?, arguments: String?)] = []

    /// Nil unless `body` is an object whose `choices` are objects, the first with a `message` object.
    init?(_ body: Data) {
        var reading = ChatCompletionReading(empty: ())
        var choicesWhole = false
        var sawMessage = false
        let isObject: Bool? = body.withUnsafeBytes { bytes in
            try? JSONReader.read(bytes) { reader in
                try reader.readObject { key, reader in
                    switch key {
                    case "id": reading.id = try reader.readString()
                    case "model": reading.model = try reader.readString()
                    case "choices":
                        var allObjects = true
                        choicesWhole = try reader.readArray { index, reader in
                            let isObject = try reader.readObject { key, reader in
                                guard index == 0 else { return try reader.skipValue() }
                                switch key {
                                case "finish_reason": reading.finishReason = try reader.readString()
                                case "message": sawMessage = try reader.readObject { key, reader in try reading.readMessage(key, &reader) }
                                default: try reader.skipValue()
                                }
                            }
                            allObjects = allObjects && isObject
                        } && allObjects
                    default: try reader.skipValue()
                    }
                }
            }
        }
        guard isObject == true, choicesWhole, sawMessage else { return nil }
        self = reading
    }

    private init(empty: Void) {}

    private mutating func readMessage(_ key: String, _ reader: inout JSONReader) throws {
        switch key {
        case "content": content = try reader.readString()
        case "reasoning_content": reasoning = try reader.readString()
        case "tool_calls":
            var calls: [(id: String?, name: String?, arguments: String?)] = []
            var allObjects = true
            let isArray = try reader.readArray { _, reader in
                var call: (id: String?, name: String?, arguments: String?) = (nil, nil, nil)
                let isObject = try reader.readObject { key, reader in
                    switch key {
                    case "id": call.id = try reader.readString()
                    case "function":
                        _ = try reader.readObject { key, reader in
                            switch key {
                            case "name": call.name = try reader.readString()
                            case "arguments": call.arguments = try reader.readString()
                            default: try reader.skipValue()
                            }
                        }
                    default: try reader.skipValue()
                    }
                }
                if isObject { calls.append(call) } else { allObjects = false }
            }
            toolCalls = isArray && allObjects ? calls : []
        default: try reader.skipValue()
        }
    }
}
