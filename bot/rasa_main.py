"""`rasa` with our guarded patches applied first; `bot.serve` starts the Rasa server through this.

Every patch of Rasa and Sanic internals lives in bot/patches.py; `apply_rasa_server()` checks that
each one fits the installed Rasa and Sanic and applies them. When one does not fit (an upgrade), the
server refuses to start and says which patch and why.
"""
from __future__ import annotations

import sys


def main() -> None:
    from bot import patches

    try:
        patches.apply_rasa_server()
    except patches.PatchError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
