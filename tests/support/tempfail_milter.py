"""A real milter (Debian's python3-milter) that refuses a marked message for now, once.

Run it with the system Python, which has the ``Milter`` module (the test venv does not):
``/usr/bin/python3 tests/support/tempfail_milter.py PORT``. It listens on 127.0.0.1:PORT
and answers TEMPFAIL (Postfix: ``451 4.7.1 Service unavailable - try again later``) at
the end of a message carrying ``X-Else-Test: tempfail-once`` whose Message-ID it has not
refused before; everything else it accepts. That is a greylisting milter in miniature:
the client's retry of the same message goes through. Stdlib plus Milter only.
"""

from __future__ import annotations

import sys

import Milter  # type: ignore[import-not-found]  # python3-milter, system Python only

_refused: set[str] = set()


class TempfailOnce(Milter.Base):  # type: ignore[misc]
    def __init__(self) -> None:
        self.marked = False
        self.message_id = ""

    def envfrom(self, mailfrom: str, *args: str) -> int:
        self.marked = False  # several messages may share one connection
        self.message_id = ""
        return Milter.CONTINUE

    def header(self, name: str, value: str) -> int:
        key = name.lower()
        if key == "x-else-test" and value.strip() == "tempfail-once":
            self.marked = True
        elif key == "message-id":
            self.message_id = value.strip()
        return Milter.CONTINUE

    def eom(self) -> int:
        if self.marked and self.message_id not in _refused:
            _refused.add(self.message_id)
            return Milter.TEMPFAIL
        return Milter.ACCEPT


def main() -> None:
    port = int(sys.argv[1])
    Milter.factory = TempfailOnce
    Milter.set_flags(0)
    sys.stdout.write(f"tempfail milter on 127.0.0.1:{port}\n")
    sys.stdout.flush()
    Milter.runmilter("else-tempfail", f"inet:{port}@127.0.0.1", 30)


if __name__ == "__main__":
    main()
