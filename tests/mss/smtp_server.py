#!/usr/bin/python3
"""A real SMTP server for the mss tests, built on Debian's python3-aiosmtpd.

Every accepted message is stored as DIR/<n>.json:
  {"mail_from", "rcpt_tos", "data" (the message as received, after the
   server removed dot-stuffing), "subject", "from", "to" (decoded headers),
   "body" (decoded text body), "tls" (bool), "auth_user" (or null)}
Files are written to a temporary name and renamed, so a reader never sees a
partial file.

Prints "PORT <n>" on stdout once listening (port 0 = pick a free one).

Options:
  --dir DIR               where to store messages (required)
  --port N                listen port (default 0)
  --cert FILE --key FILE  enable STARTTLS (or implicit TLS with --implicit-tls)
  --implicit-tls          TLS from the first byte (SMTPS)
  --auth USER:PASS        enable AUTH (PLAIN and LOGIN), require it for MAIL
  --auth-plaintext        allow AUTH without TLS (aiosmtpd requires TLS by default)
  --require-starttls      refuse commands before STARTTLS
  --fail-first N          answer the first N messages (DATA) with a temporary
                          451 failure, then accept; every DATA received, failed
                          or not, is one line {"number","rcpt_tos","status"}
                          in DIR/attempts.jsonl (the tests count them)
"""
# First of all: SIGUSR1 prints where every thread is (to stderr), so a test
# that waits too long for "PORT" can show where the start-up stalled.
import faulthandler
import signal
faulthandler.register(signal.SIGUSR1, all_threads=True)

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Store:
    def __init__(self, directory, fail_first=0):
        self.directory = directory
        self.count = 0
        self.attempts = 0
        self.fail_first = fail_first

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Lets tests provoke a permanent recipient failure.
        if address.startswith("reject"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        status = 451 if self.attempts <= self.fail_first else 250
        with open(os.path.join(self.directory, "attempts.jsonl"), "a") as out:
            out.write(json.dumps({"number": self.attempts, "rcpt_tos": envelope.rcpt_tos, "status": status}) + "\n")
        if status != 250:
            return "451 4.3.0 induced temporary failure"
        self.count += 1
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body_part = parsed.get_body(preferencelist=("plain",))
        body = body_part.get_content() if body_part is not None else ""
        # The wire uses CRLF; tests compare with the LF text they sent.
        body = body.replace("\r\n", "\n")
        auth_user = None
        if session.auth_data is not None and isinstance(session.auth_data, LoginPassword):
            auth_user = session.auth_data.login.decode()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": raw.decode("utf-8", "replace"),
            "subject": str(parsed.get("Subject", "")),
            "from": str(parsed.get("From", "")),
            "to": str(parsed.get("To", "")),
            "body": body,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "auth_user": auth_user,
        }
        path = os.path.join(self.directory, "%04d.json" % self.count)
        with open(path + ".tmp", "w") as out:
            json.dump(record, out)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--auth-plaintext", action="store_true")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()

    tls_context = None
    if args.cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)

    authenticator = None
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    store = Store(args.dir, args.fail_first)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(
            store,
            hostname="courier-test",
            tls_context=None if args.implicit_tls else tls_context,
            require_starttls=args.require_starttls,
            authenticator=authenticator,
            auth_required=bool(args.auth),
            auth_require_tls=not args.auth_plaintext,
            loop=loop,
        )

    server = loop.run_until_complete(
        loop.create_server(factory, host="127.0.0.1", port=args.port,
                           ssl=tls_context if args.implicit_tls else None))
    port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
