/// Writes a JSON object member by member, for answers whose shape the gateway knows: nothing is
/// built but the bytes. A translated answer written from a `[String: Any]` tree allocated a box per
/// value and a dictionary per object, and cast every value back to write it (docs/benchmarks.md).
package struct JSONObjectWriter {
    package private(set) var bytes: [UInt8] = []
    private var empty = true

    package init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// The object's text, closed.
    package consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ key: StaticString) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: "\":".utf8)
    }

    package mutating func string(_ key: StaticString, _ value: String) {
        self.key(key)
        JSONText.writeString(value, into: &bytes)
    }

    package mutating func int(_ key: StaticString, _ value: Int) {
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    package mutating func null(_ key: StaticString) {
        self.key(key)
        bytes.append(contentsOf: "null".utf8)
    }

    /// A member whose value is JSON text already (another writer's object, say).
    package mutating func json(_ key: StaticString, _ value: [UInt8]) {
        self.key(key)
        bytes.append(contentsOf: value)
    }

    /// An array of values that are JSON text already.
    package mutating func array(_ key: StaticString, _ elements: [[UInt8]]) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: element)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}
