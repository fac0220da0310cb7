import Foundation
import SluiceCore

/// A Messages API answer, read in one pass over its bytes (`JSONReader`) for the fields the chat
/// translation writes. Parsing it into a `[String: Any]` tree with `JSONSerialization` and casting
/// each value back was most of the translated chat path's own cost (docs/benchmarks.md).
struct AnthropicMessage {
    struct Block {
        var type: String?
        var text: String?
        var thinking: String?
        var signature: String?
        var data: String?
        var id: String?
        var name: String?
        /// A tool call's `input`, as compact JSON text.
        var input: String?
    }

    var id: String?
    var model: String?
    var stopReason: String?
    var blocks: [Block]
    var usage: TokenUsage

    /// Nil unless `body` is a message (`"type": "message"`) whose `content` is a list of blocks.
    init?(_ body: Data) {
        var type: String?
        var id: String?
        var model: String?
        var stopReason: String?
        var blocks: [Block]?
        var counts = (input: 0, cacheRead: 0, cacheWrite: 0, output: 0)
        let isObject: Bool? = body.withUnsafeBytes { bytes in
            try? JSONReader.read(bytes) { reader in
                try reader.readObject { key, reader in
                    switch key {
                    case "type": type = try reader.readString()
                    case "id": id = try reader.readString()
                    case "model": model = try reader.readString()
                    case "stop_reason": stopReason = try reader.readString()
                    case "content": blocks = try Self.readBlocks(&reader)
                    case "usage":
                        _ = try reader.readObject { key, reader in
                            let value = try reader.readInteger() ?? 0
                            switch key {
                            case "input_tokens": counts.input = value
                            case "cache_read_input_tokens": counts.cacheRead = value
                            case "cache_creation_input_tokens": counts.cacheWrite = value
                            case "output_tokens": counts.output = value
                            default: break
                            }
                        }
                    default: try reader.skipValue()
                    }
                }
            }
        }
        guard isObject == true, type == "message", let blocks else { return nil }
        self.id = id
        self.model = model
        self.stopReason = stopReason
        self.blocks = blocks
        usage = AnthropicAnswer.usage(input: counts.input, cacheRead: counts.cacheRead, cacheWrite: counts.cacheWrite, output: counts.output)
    }

    /// The blocks of `content`, or nil when it is not a list of objects.
    private static func readBlocks(_ reader: inout JSONReader) throws -> [Block]? {
        var blocks: [Block] = []
        var allObjects = true
        let isArray = try reader.readArray { _, reader in
            var block = Block()
            let isObject = try reader.readObject { key, reader in
                switch key {
                case "type": block.type = try reader.readString()
                case "text": block.text = try reader.readString()
                case "thinking": block.thinking = try reader.readString()
                case "signature": block.signature = try reader.readString()
                case "data": block.data = try reader.readString()
                case "id": block.id = try reader.readString()
                case "name": block.name = try reader.readString()
                case "input": block.input = try reader.readCompactText()
                default: try reader.skipValue()
                }
            }
            if isObject { blocks.append(block) } else { allObjects = false }
        }
        return isArray && allObjects ? blocks : nil
    }
}
