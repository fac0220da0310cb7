import Foundation

/// A plain-text mail as SMTP's DATA carries it (RFC 5322): CRLF lines, headers that cannot be
/// split by what they quote, a non-ASCII subject or body encoded, and dot-stuffing, so a line
/// that is a lone "." cannot end the message early.
enum MailMessage {
    /// The bare address in `Name <address>` or in `address`.
    static func address(in mailbox: String) -> String {
        if let open = mailbox.lastIndex(of: "<"), let close = mailbox.lastIndex(of: ">"), open < close {
            return String(mailbox[mailbox.index(after: open)..<close]).trimmingCharacters(in: .whitespaces)
        }
        return mailbox.trimmingCharacters(in: .whitespaces)
    }

    static func render(from: String, to: String, subject: String, body: String, date: Date, messageID: String) -> String {
        let ascii = body.unicodeScalars.allSatisfy(\.isASCII)
        var lines = [
            "From: \(oneLine(from))",
            "To: \(oneLine(to))",
            "Subject: \(encodedHeader(oneLine(subject)))",
            "Date: \(rfc5322Date(date))",
            "Message-ID: <\(messageID)@\(domain(of: address(in: from)))>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(ascii ? "7bit" : "base64")",
            "",
        ]
        let normalized = body.replacingOccurrences(of: "\r\n", with: "\n")
        if ascii {
            lines += normalized.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix(".") ? "." + line : String(line)
            }
        } else {
            let encoded = Data(normalized.replacingOccurrences(of: "\n", with: "\r\n").utf8).base64EncodedString()
            lines += stride(from: 0, to: encoded.count, by: 76).map { offset in
                let start = encoded.index(encoded.startIndex, offsetBy: offset)
                return String(encoded[start..<(encoded.index(start, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex)])
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// A header value on one line: CR and LF would start a header of the sender's choosing.
    static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : Character($0) })
    }

    /// RFC 2047 for a value that is not ASCII.
    static func encodedHeader(_ text: String) -> String {
        text.unicodeScalars.allSatisfy(\.isASCII) ? text : "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?="
    }

    static func domain(of address: String) -> String {
        address.split(separator: "@").last.map(String.init) ?? "sluice.invalid"
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
