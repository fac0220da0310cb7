/// A strict, forward-only JSON reader over bytes (RFC 8259), for the few fields the hot path reads.
///
/// Every chat request and every answer passes through the gateway, which reads three to seven of
/// their fields. `JSONDecoder` builds a map of the whole document and boxes every key on the way;
/// this reader validates the document in one pass and materialises only the strings asked for. It
/// was about 6 % of the gateway's CPU under load (docs/benchmarks.md).
///
/// Each `read…` call consumes one value. A value of an unexpected kind is left unread and reported
/// as `nil` or `.other`, so the caller decides what a type error means; a syntax error anywhere
/// throws `JSONSyntaxError`.
package struct JSONReader {
    struct JSONSyntaxError: Error {}

    /// The first byte of a value says what it is.
    package enum Kind: Equatable { case object, array, string, number, bool, null }

    /// Deeper documents are refused, so that skipping cannot exhaust the stack (JSONDecoder's limit).
    static let maximumDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var index = 0
    private var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Where the reader is, in bytes from the start: after `peekKind`, where the next value begins.
    var offset: Int { index }

    /// Runs `body` on a reader of `bytes`, then checks that nothing but whitespace follows.
    package static func read<Result>(
        _ bytes: UnsafeRawBufferPointer, _ body: (inout JSONReader) throws -> Result
    ) throws -> Result {
        var reader = JSONReader(bytes)
        let result = try body(&reader)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw JSONSyntaxError() }
        return result
    }

    /// The kind of the next value, without consuming it.
    package mutating func peekKind() throws -> Kind {
        skipWhitespace()
        guard index < bytes.count else { throw JSONSyntaxError() }
        switch bytes[index] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw JSONSyntaxError()
        }
    }

    // MARK: Values

    /// Calls `member` with each key of the next value, which must be an object; `member` must consume
    /// the member's value. Returns false, consuming the value, when it is not an object.
    package mutating func readObject(_ member: (String, inout JSONReader) throws -> Void) throws -> Bool {
        guard try peekKind() == .object else {
            try skipValue()
            return false
        }
        try enter()
        index += 1
        if take(UInt8(ascii: "}")) {
            depth -= 1
            return true
        }
        repeat {
            guard try peekKind() == .string else { throw JSONSyntaxError() }
            let key = try readRawString()
            guard take(UInt8(ascii: ":")) else { throw JSONSyntaxError() }
            try member(key, &self)
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { throw JSONSyntaxError() }
        depth -= 1
        return true
    }

    /// Calls `element` with the position of each element of the next value, which must be an array;
    /// `element` must consume the element. Returns false, consuming the value, when it is not an array.
    package mutating func readArray(_ element: (Int, inout JSONReader) throws -> Void) throws -> Bool {
        guard try peekKind() == .array else {
            try skipValue()
            return false
        }
        try enter()
        index += 1
        if take(UInt8(ascii: "]")) {
            depth -= 1
            return true
        }
        var position = 0
        repeat {
            try element(position, &self)
            position += 1
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "]")) else { throw JSONSyntaxError() }
        depth -= 1
        return true
    }

    /// The next value as a string, or nil (consuming it) when it is not one.
    package mutating func readString() throws -> String? {
        guard try peekKind() == .string else {
            try skipValue()
            return nil
        }
        return try readRawString()
    }

    /// The next value as a boolean, or nil (consuming it) when it is not one.
    package mutating func readBool() throws -> Bool? {
        guard try peekKind() == .bool else {
            try skipValue()
            return nil
        }
        if consumeLiteral("true") { return true }
        if consumeLiteral("false") { return false }
        throw JSONSyntaxError()
    }

    /// The next value as an integer, or nil (consuming it) when it is not a number with an exact
    /// integer value that fits (`5` and `5.0` are 5; `5.5` and `1e30` are not integers).
    package mutating func readInteger() throws -> Int? {
        guard try peekKind() == .number else {
            try skipValue()
            return nil
        }
        let start = index
        let isPlainInteger = try scanNumber()
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isPlainInteger { return Int(text) }
        guard let value = Double(text), value.rounded() == value, abs(value) < 0x1p63 else { return nil }
        return Int(value)
    }

    /// Consumes the next value, checking its syntax.
    package mutating func skipValue() throws {
        switch try peekKind() {
        case .object: _ = try readObject { _, reader in try reader.skipValue() }
        case .array: _ = try readArray { _, reader in try reader.skipValue() }
        case .string: try skipString()
        case .number: _ = try scanNumber()
        case .bool: guard consumeLiteral("true") || consumeLiteral("false") else { throw JSONSyntaxError() }
        case .null: guard consumeLiteral("null") else { throw JSONSyntaxError() }
        }
    }

    /// Consumes the next value and returns its text without the whitespace between tokens: a
    /// value passed on as it came (a tool call's arguments), in the compact form clients expect.
    package mutating func readCompactText() throws -> String {
        _ = try peekKind()
        let start = index
        try skipValue()
        var text: [UInt8] = []
        text.reserveCapacity(index - start)
        var inString = false
        var escaped = false
        // The value was validated by `skipValue`: outside strings, whitespace is only ever padding.
        for byte in bytes[start..<index] {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                continue
            }
            text.append(byte)
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Consumes a `null`, and says whether the next value was one.
    mutating func readNull() throws -> Bool {
        guard try peekKind() == .null else { return false }
        return consumeLiteral("null")
    }

    // MARK: Tokens

    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maximumDepth else { throw JSONSyntaxError() }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        if matches { index += count }
        return matches
    }

    /// Consumes a number; returns whether it had neither fraction nor exponent.
    private mutating func scanNumber() throws -> Bool {
        func digits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw JSONSyntaxError() }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw JSONSyntaxError()
        }
        var plain = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            plain = false
            guard digits() > 0 else { throw JSONSyntaxError() }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            plain = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw JSONSyntaxError() }
        }
        return plain
    }

    // MARK: Strings

    /// Consumes a string without building it, checking its escapes and its UTF-8.
    private mutating func skipString() throws {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"): _ = try readEscape()
            case 0..<0x20: throw JSONSyntaxError()
            case 0x80...: try skipUTF8Sequence()
            default: index += 1
            }
        }
        throw JSONSyntaxError()
    }

    /// Consumes a string and returns its value. Runs without escapes are copied as they are.
    private mutating func readRawString() throws -> String {
        index += 1
        var value = ""
        var runStart = index
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                value += String(decoding: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]), as: UTF8.self)
                index += 1
                return value
            case UInt8(ascii: "\\"):
                value += String(decoding: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]), as: UTF8.self)
                value.unicodeScalars.append(try readEscape())
                runStart = index
            case 0..<0x20: throw JSONSyntaxError()
            case 0x80...: try skipUTF8Sequence()
            default: index += 1
            }
        }
        throw JSONSyntaxError()
    }

    /// Consumes one escape, the backslash included. A lone surrogate reads as U+FFFD.
    private mutating func readEscape() throws -> Unicode.Scalar {
        guard index + 1 < bytes.count else { throw JSONSyntaxError() }
        let letter = bytes[index + 1]
        index += 2
        switch letter {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try readHex4()
            if (0xD800..<0xDC00).contains(unit), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                bytes[index + 1] == UInt8(ascii: "u")
            {
                let resume = index
                index += 2
                let low = try readHex4()
                if (0xDC00..<0xE000).contains(low) {
                    return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}"
                }
                index = resume
            }
            return Unicode.Scalar(unit) ?? "\u{FFFD}"
        default: throw JSONSyntaxError()
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw JSONSyntaxError() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONSyntaxError()
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Consumes one multi-byte UTF-8 sequence, refusing overlong forms, surrogates and values past U+10FFFF.
    private mutating func skipUTF8Sequence() throws {
        let lead = bytes[index]
        let (length, minimum): (Int, UInt32)
        switch lead {
        case 0xC2...0xDF: (length, minimum) = (2, 0x80)
        case 0xE0...0xEF: (length, minimum) = (3, 0x800)
        case 0xF0...0xF4: (length, minimum) = (4, 0x10000)
        default: throw JSONSyntaxError()
        }
        guard index + length <= bytes.count else { throw JSONSyntaxError() }
        var scalar = UInt32(lead) & (0x7F >> length)
        for offset in 1..<length {
            let continuation = bytes[index + offset]
            guard continuation & 0xC0 == 0x80 else { throw JSONSyntaxError() }
            scalar = scalar << 6 | UInt32(continuation & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800..<0xE000).contains(scalar) else { throw JSONSyntaxError() }
        index += length
    }
}
