"""An SMTP server for the mail tests: aiosmtpd on loopback, STARTTLS required before AUTH and
before mail, AUTH PLAIN/LOGIN checked against one user. Each message it accepts is written to
OUT/<n>.json with its envelope, whether it came over TLS and authenticated, and its raw text.

usage: smtp_sink.py PORT CERT KEY USER PASSWORD OUT
Writes OUT/ready once it listens; runs until SIGTERM.
"""
import asyncio
import json
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out = sys.argv[1:7]
port = int(port)


class Sink:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "content": envelope.content.decode("utf-8", "replace"),
        }
        path = os.path.join(out, "%04d.json" % Sink.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Sink(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
    authenticator=authenticator, auth_required=True, auth_require_tls=True,
)
controller.start()
with open(os.path.join(out, "ready"), "w") as f:
    f.write("ready")

stop = asyncio.new_event_loop()
# The test process starts us with its signal mask, which blocks SIGTERM.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
signal.signal(signal.SIGTERM, lambda *_: stop.call_soon_threadsafe(stop.stop))
stop.run_forever()
controller.stop()
