import Foundation

/// Writes the trees `JSONSerialization` reads and the translators build (`[String: Any]`, `[Any]`,
/// `String`, numbers, booleans, `NSNull`) as JSON text, without Foundation's writer.
///
/// Every request and answer the gateway translates between wire formats is rebuilt as such a
/// tree and written out. `JSONSerialization.data(withJSONObject:)` first bridges each dictionary
/// to an `NSDictionary` and each value to an object, then casts every one back: on the translated
/// chat path that was 30 % of the gateway's CPU (docs/benchmarks.md). This writer looks at each
/// value's type once and writes bytes.
///
/// Numbers keep their kind: a parsed `true` is an `NSNumber` that says it is a boolean (its
/// `objCType` is `c`), and is written `true`, while a parsed `1` stays `1`, as Foundation's writer
/// does. A value of any other type, or a number that is not finite, throws, as it does there.
public enum JSONText {
    public struct InvalidValue: Error {
        public let description: String
    }

    /// The JSON text of `value`; with `sortedKeys`, every object's keys in ascending order.
    public static func data(_ value: Any, sortedKeys: Bool = false) throws -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        try write(value, into: &out, sortedKeys: sortedKeys)
        return Data(out)
    }

    static func write(_ value: Any, into out: inout [UInt8], sortedKeys: Bool) throws {
        // Exact types first: comparing metadata is cheap, and a cast to `Bool` would take the
        // number 1 for `true`.
        let type = Swift.type(of: value)
        if type == String.self {
            writeString(value as! String, into: &out)
        } else if type == Bool.self {
            out.append(contentsOf: (value as! Bool) ? "true".utf8 : "false".utf8)
        } else if type == Int.self {
            out.append(contentsOf: String(value as! Int).utf8)
        } else if type == Double.self {
            try writeDouble(value as! Double, into: &out)
        } else if let object = value as? [String: Any] {
            out.append(UInt8(ascii: "{"))
            var first = true
            func member(_ key: String, _ member: Any) throws {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                try write(member, into: &out, sortedKeys: sortedKeys)
            }
            if sortedKeys {
                for key in object.keys.sorted() { try member(key, object[key]!) }
            } else {
                for (key, value) in object { try member(key, value) }
            }
            out.append(UInt8(ascii: "}"))
        } else if let array = value as? [Any] {
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                try write(element, into: &out, sortedKeys: sortedKeys)
            }
            out.append(UInt8(ascii: "]"))
        } else if value is NSNull {
            out.append(contentsOf: "null".utf8)
        } else if let number = value as? NSNumber {
            // Parsed numbers, and Swift's other numeric types, bridged.
            switch UInt8(bitPattern: number.objCType.pointee) {
            case UInt8(ascii: "c"): out.append(contentsOf: number.boolValue ? "true".utf8 : "false".utf8)
            case UInt8(ascii: "f"), UInt8(ascii: "d"): try writeDouble(number.doubleValue, into: &out)
            case UInt8(ascii: "Q"), UInt8(ascii: "L"), UInt8(ascii: "I"), UInt8(ascii: "S"), UInt8(ascii: "C"):
                out.append(contentsOf: String(number.uint64Value).utf8)
            default: out.append(contentsOf: String(number.int64Value).utf8)
            }
        } else if let string = value as? String {
            writeString(string, into: &out)
        } else {
            throw InvalidValue(description: "\(type) is not a JSON value")
        }
    }

    private static func writeDouble(_ number: Double, into out: inout [UInt8]) throws {
        guard number.isFinite else { throw InvalidValue(description: "\(number) is not a JSON number") }
        // Whole numbers as integers, as Foundation writes them; the rest in Swift's shortest form.
        if number == number.rounded(), abs(number) < 1e15 {
            out.append(contentsOf: String(Int64(number)).utf8)
        } else {
            out.append(contentsOf: "\(number)".utf8)
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// `string` as a JSON string, quoted and escaped.
    package static func writeString(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
