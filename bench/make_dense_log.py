#!/usr/bin/env python3
"""Make an e-mail-dense Postfix log (~15 lines per e-mail) from a real Postfix, then replicate it.

The older benchmark log (bench/make_log.py on the pixelpark log) holds ~2,700 e-mails per
million lines, mostly postscreen noise. A busy relay's log is the other way round: nearly
every line belongs to an e-mail, and that is where a correlator's costs show. So this script
drives Debian's real Postfix (tests/support/postfix.py: a private instance on loopback, its
own ``maillog_file``) with a production-like mix, sent over parallel SMTP sessions:

* one SMTP session per mail, half of them through postscreen;
* most mail: one to four recipients, delivered by the relay (the scripted sink);
* a fifth through an after-queue content filter that re-injects (two queue files each);
* some with a recipient refused at RCPT, some that bounce, some deferred then delivered,
  some local submissions through sendmail/pickup;

and replicates that log with bench/make_log.py's rewriting (unique queue IDs and
Message-IDs per replica). Replicas follow each other at the base log's own pace (the shift
is its span, not whole days), so the e-mail rate stays that of the real run and the
correlator holds as much open state as on a busy server. Needs root (Postfix runs as
root) and the postfix package (`make deps-test`); the base log is cached in bench/out/.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import shutil
import smtplib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import make_log  # noqa: E402

from tests.support.postfix import PostfixInstance, classic_to_rfc3339, wait_until  # noqa: E402
from tests.support.smtp_sink import ContentFilter, SmtpSink  # noqa: E402

SINK = "sink.test"
BASE_MAILS = 600
SESSIONS = 8


def _message(n: int, sender: str, rcpts: list[str]) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(rcpts)
    msg["Subject"] = f"dense {n}"
    msg["Message-ID"] = f"<dense-{n}.{time.time_ns()}@client.test>"
    msg.set_content(f"message {n}\n" + "x" * (200 + 37 * (n % 50)))
    return msg.as_bytes()


def _plan(n: int, rnd: random.Random) -> tuple[str, list[str]]:
    """Sender and recipients of mail ``n``: the mix described in the module docstring."""
    sender = f"ok-snd{n % 97}@{SINK}"
    rcpts = [f"ok-r{n}-{i}@{SINK}" for i in range(rnd.choice((1, 1, 2, 2, 3, 4)))]
    roll = rnd.random()
    if roll < 0.20:
        rcpts[0] = f"ok-filt{n}@{SINK}"  # FILTER by the access map (set up below)
    elif roll < 0.25:
        rcpts.insert(0, f"reject-r{n}@{SINK}")  # refused at RCPT, the rest accepted
    elif roll < 0.28:
        rcpts.append(f"bad-r{n}@{SINK}")  # 550 at the relay: a bounce and its DSN
    elif roll < 0.31:
        rcpts.append(f"once-r{n}@{SINK}")  # 451 then 250: deferred, delivered on retry
    return sender, rcpts


def run_postfix(root: Path, mails: int) -> Path:
    """Send ``mails`` through a fresh Postfix in ``root``; its finished maillog."""
    rnd = random.Random(20261206)
    plans = [_plan(n, rnd) for n in range(mails)]
    sink = SmtpSink().start()
    pf = PostfixInstance(root, relay_port=sink.port, queue_lifetime=3600)
    filt = ContentFilter(pf.reinject_port, xforward=True).start()
    for _, rcpts in plans:
        for r in rcpts:
            if r.startswith("ok-filt"):
                pf.recipient_access[r] = f"FILTER filter:[127.0.0.1]:{filt.port}"
            elif r.startswith("reject-"):
                pf.recipient_access[r] = "REJECT"
    try:
        pf.start()

        def session(batch: list[int]) -> None:
            for n in batch:  # one SMTP session per mail, as from the Internet
                sender, rcpts = plans[n]
                with (
                    pf.smtp(postscreen=n % 2 == 0) as s,
                    contextlib.suppress(smtplib.SMTPRecipientsRefused),
                ):
                    s.sendmail(sender, rcpts, _message(n, sender, rcpts))

        local = [n for n in range(mails) if n % 25 == 24]  # some local submissions
        remote = [n for n in range(mails) if n % 25 != 24]
        batches = [remote[i :: SESSIONS * 4] for i in range(SESSIONS * 4)]
        with ThreadPoolExecutor(SESSIONS) as pool:
            list(pool.map(session, batches))
        for n in local:
            sender, rcpts = plans[n]
            rcpts = [r for r in rcpts if not r.startswith("reject-")]  # no smtpd to refuse
            pf.sendmail(sender, rcpts, _message(n, sender, rcpts))
        pf.flush()
        wait_until(lambda: not pf.queue(), 300, "Postfix to empty its queue", interval=1)
        pf.wait_log_quiet(1.0, 30)
    finally:
        pf.stop()
        filt.stop()
        sink.stop()
    return pf.maillog


def base_log(mails: int, force: bool) -> Path:
    out = HERE / "out" / f"dense-base-{mails}.rfc3339.log"
    if out.exists() and not force:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    root = HERE / "out" / f"dense-postfix-{mails}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    started = time.monotonic()
    maillog = run_postfix(root, mails)
    year = datetime.fromtimestamp(maillog.stat().st_mtime).year
    out.write_text(classic_to_rfc3339(maillog.read_text(errors="replace"), year))
    print(
        f"make_dense_log: real Postfix run of {mails} mails in {time.monotonic() - started:.0f}s",
        file=sys.stderr,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="about this many lines")
    ap.add_argument("--mails", type=int, default=BASE_MAILS, help="mails in the real run")
    ap.add_argument("--classic", action="store_true", help="classic Mmm dd HH:MM:SS stamps")
    ap.add_argument("-o", "--output", type=Path, help="default: bench/out/")
    ap.add_argument("--force", action="store_true", help="redo the Postfix run and the output")
    args = ap.parse_args(argv)

    base = base_log(args.mails, args.force)
    lines = base.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    templates, _, n_qids = make_log.build_templates(lines)
    span = templates[-1].epoch - templates[0].epoch + 1
    replicas = max(1, math.ceil(args.lines / len(templates)))
    out = args.output or HERE / "out" / (
        f"dense-{args.mails}-x{replicas}{'.classic' if args.classic else ''}.log"
    )
    if out.exists() and not args.force:
        print(out)
        return 0
    make_log.write_replicas(out, templates, span, replicas, args.classic)
    mails = sum(1 for line in lines if "postfix/qmgr[" in line and ": from=<" in line)
    print(
        f"make_dense_log: {len(lines) / max(mails, 1):.1f} lines per queue file in the base log",
        file=sys.stderr,
    )
    print(
        f"make_dense_log: {len(templates) * replicas} lines ({replicas} x {len(templates)}, "
        f"{n_qids} queue IDs per replica, a replica every {span}s)",
        file=sys.stderr,
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
