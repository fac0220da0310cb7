import Foundation
import Testing

@testable import SluiceCore

/// `JSONText` writes what `JSONSerialization` would: the same document, read back, for every kind
/// of value the translators build or parse, and refuses what is not JSON.
@Suite struct JSONTextTests {
    func parse(_ data: Data) throws -> Any { try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) }

    func sameDocument(_ a: Any, _ b: Any) throws -> Bool {
        // Foundation's own writer with sorted keys is the reference for "the same document".
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed]
        return try JSONSerialization.data(withJSONObject: a, options: options) == JSONSerialization.data(withJSONObject: b, options: options)
    }

    @Test func aParsedDocumentIsWrittenBackAsTheSameDocument() throws {
        let text = #"""
            {"model":"m","n":1,"zero":0,"t":true,"f":false,"x":1.5,"neg":-3,"big":9007199254740993,"null":null,
             "s":"quote \" backslash \\ slash / newline \n tab \t bell \u0007 é 😀","a":[1,"two",[true,null],{"k":{}}],"e":[]}
            """#
        let parsed = try parse(Data(text.utf8))
        let written = try JSONText.data(parsed)
        #expect(try sameDocument(try parse(written), parsed))
        // Numbers keep their kind: a parsed 1 is not `true`, and a parsed `true` is not 1.
        let object = try #require(try parse(written) as? [String: Any])
        #expect(String(decoding: try JSONText.data(object["n"]!), as: UTF8.self) == "1")
        #expect(String(decoding: try JSONText.data(object["t"]!), as: UTF8.self) == "true")
        #expect(String(decoding: try JSONText.data(object["zero"]!), as: UTF8.self) == "0")
        #expect(String(decoding: try JSONText.data(object["f"]!), as: UTF8.self) == "false")
        #expect(String(decoding: try JSONText.data(object["big"]!), as: UTF8.self) == "9007199254740993")
    }

    @Test func swiftValuesAreWrittenAsTheirJSON() throws {
        let tree: [String: Any] = [
            "string": "a\u{1}b", "int": 42, "double": 0.25, "whole": 2.0, "bool": true, "int64": Int64(-7), "float": Float(0.5),
            "null": NSNull(), "array": [1, "x", false] as [Any], "nested": ["k": [String: Any]()],
        ]
        let written = try JSONText.data(tree)
        #expect(try sameDocument(try parse(written), tree))
        #expect(String(decoding: try JSONText.data("a\u{1}b"), as: UTF8.self) == #""a\u0001b""#)
        #expect(String(decoding: try JSONText.data(2.0), as: UTF8.self) == "2")
    }

    @Test func sortedKeysOrderEveryObject() throws {
        let tree: [String: Any] = ["b": 1, "a": ["d": 1, "c": 2] as [String: Any], "c": [["z": 1, "y": 2] as [String: Any]]]
        #expect(String(decoding: try JSONText.data(tree, sortedKeys: true), as: UTF8.self) == #"{"a":{"c":2,"d":1},"b":1,"c":[{"y":2,"z":1}]}"#)
    }

    @Test func whatIsNotJSONIsRefused() {
        #expect(throws: JSONText.InvalidValue.self) { try JSONText.data(["x": Double.nan]) }
        #expect(throws: JSONText.InvalidValue.self) { try JSONText.data([Double.infinity]) }
        #expect(throws: JSONText.InvalidValue.self) { try JSONText.data(["when": Date()]) }
    }
}
