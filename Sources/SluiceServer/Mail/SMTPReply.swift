import Foundation
import NIOCore

/// One SMTP reply (RFC 5321 §4.2): a code and its text lines; `250-` lines continue it, the
/// `250 ` line ends it.
struct SMTPReply: Equatable, Sendable {
    var code: Int
    var lines: [String]

    var isPositive: Bool { (200..<400).contains(code) }
    /// 5xx: the server will not take this mail, so trying again is pointless.
    var isPermanentFailure: Bool { code >= 500 }
    /// The EHLO keywords, upper-cased (`STARTTLS`, `AUTH PLAIN LOGIN`), from every line but the greeting.
    var extensions: [String] { lines.dropFirst().map { $0.uppercased() } }
}

enum SMTPError: Error, CustomStringConvertible, Equatable {
    case reply(command: String, SMTPReply)
    case malformed
    case closed
    case noStartTLS
    case noAuthMechanism
    case timedOut

    var description: String {
        switch self {
        case .reply(let command, let reply): "the server answered \(command) with \(reply.code) \(reply.lines.last ?? "")"
        case .malformed: "the server's reply is not SMTP"
        case .closed: "the server closed the connection"
        case .noStartTLS: "the server does not offer STARTTLS"
        case .noAuthMechanism: "the server offers neither AUTH PLAIN nor AUTH LOGIN"
        case .timedOut: "the server took too long"
        }
    }

    /// Whether the mail is worth trying again later: a refusal with 5xx is not.
    var isPermanent: Bool {
        if case .reply(_, let reply) = self { return reply.isPermanentFailure }
        return self == .noStartTLS || self == .noAuthMechanism
    }
}

/// Cuts the bytes a server sends into replies. Bounded, so a server that sends endless lines
/// cannot make Sluice hold them.
struct SMTPReplyParser {
    static let maxLineBytes = 4096
    static let maxLines = 256

    private var pending: [UInt8] = []
    private var lines: [String] = []
    private var code: Int?

    mutating func feed(_ buffer: ByteBuffer) { pending += buffer.readableBytesView }

    /// The next whole reply, nil until one has arrived.
    mutating func next() throws(SMTPError) -> SMTPReply? {
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = pending[..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            pending.removeSubrange(...newline)
            guard line.count >= 3, line.count <= Self.maxLineBytes, let text = String(bytes: line, encoding: .utf8),
                  let lineCode = Int(text.prefix(3)), (200...599).contains(lineCode), code == nil || code == lineCode
            else { throw .malformed }
            let separator = text.dropFirst(3).first
            guard separator == nil || separator == " " || separator == "-" else { throw .malformed }
            code = lineCode
            lines.append(String(text.dropFirst(4)))
            guard lines.count <= Self.maxLines else { throw .malformed }
            if separator != "-" {
                defer { lines = []; code = nil }
                return SMTPReply(code: lineCode, lines: lines)
            }
        }
        guard pending.count <= Self.maxLineBytes else { throw .malformed }
        return nil
    }
}
