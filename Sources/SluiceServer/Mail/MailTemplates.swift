import Foundation
import SluiceStore

/// The mails Sluice sends. Plain text, with the link on a line of its own so that mail clients
/// make it clickable and tests can find it.
enum MailTemplates {
    static func verification(to address: String, link: String, ttlHours: Int) -> OutgoingMail {
        OutgoingMail(
            recipient: address, subject: "Verify your email for Sluice",
            body: """
                Confirm that this address is yours by opening this link:

                \(link)

                The link works once, for \(ttlHours) hours. If you did not sign up, ignore this mail.
                """)
    }

    static func passwordReset(to address: String, link: String, ttlMinutes: Int) -> OutgoingMail {
        OutgoingMail(
            recipient: address, subject: "Reset your Sluice password",
            body: """
                Someone asked to reset the password of the Sluice account with this address.
                To choose a new one, open this link, then send the new password with its token:

                \(link)

                The link works once, for \(ttlMinutes) minutes, and resetting signs you out everywhere.
                If you did not ask for this, ignore this mail: your password stays as it is.
                """)
    }

    static func emailChange(to address: String, link: String, ttlHours: Int) -> OutgoingMail {
        OutgoingMail(
            recipient: address, subject: "Confirm your new email for Sluice",
            body: """
                Your Sluice account is moving to this address. Confirm it by opening this link:

                \(link)

                The link works once, for \(ttlHours) hours. Until then the account keeps its old address.
                """)
    }

    static func emailChangeNotice(to address: String, newAddress: String) -> OutgoingMail {
        OutgoingMail(
            recipient: address, subject: "Your Sluice email is changing",
            body: """
                Someone signed in to your Sluice account asked to move it to \(newAddress).
                It moves only once that address confirms. If this was not you, change your password now.
                """)
    }
}

extension MailTemplates {
    static func teamInvitation(to address: String, team: String, role: String, token: String, baseURL: String, ttlDays: Int) -> OutgoingMail {
        OutgoingMail(
            recipient: address, subject: "You are invited to the team \(team) on Sluice",
            body: """
                You are invited to join the team \(team) on Sluice as a \(role).

                Sign in as \(address) and accept it here:

                \(baseURL)/#/teams?invitation=\(token)

                (or send the token \(token) to POST /api/team-invitations/accept).

                The invitation works once, for \(ttlDays) days. If you do not know this team, ignore this mail.
                """)
    }
}
