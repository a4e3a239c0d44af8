#!/usr/bin/env python3
"""Opens a URL in headless Chromium for real (wall-clock) seconds, then saves a PNG.

Chromium's own --screenshot flag runs the page in virtual time, so a page that polls
once a second would show seconds of history compressed into milliseconds. This
drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages separated by NUL on file descriptors 3 and 4; no websocket, no packages)
and waits in real time.

usage: cdp_screenshot.py URL OUT.png [--seconds N] [--width W] [--height H]
Prints the page's data-* attributes on <body> (polls, drawMs) when done.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1000)
    ap.add_argument("--chromium", default=os.environ.get("TACHOMETER_CHROMIUM") or shutil.which("chromium") or "chromium")
    args = ap.parse_args()

    profile = tempfile.mkdtemp(prefix="tachometer-cdp-")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
        f"--window-size={args.width},{args.height}", "about:blank",
    ]
    # fd 3 = what Chromium reads (our stdin pipe), fd 4 = what it writes (our stdout pipe).
    cmd = 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null 2>/dev/null'
    proc = subprocess.Popen(["sh", "-c", cmd, args.chromium, *flags],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    buf = b""
    next_id = 0

    def send(method, params=None, session=None):
        nonlocal buf, next_id
        next_id += 1
        msg = {"id": next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        proc.stdin.write(json.dumps(msg).encode() + b"\0")
        proc.stdin.flush()
        while True:
            while b"\0" not in buf:
                chunk = os.read(proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise SystemExit(f"chromium closed the pipe while waiting for {method}")
                buf += chunk
            raw, buf = buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == next_id:
                if "error" in reply:
                    raise SystemExit(f"{method}: {reply['error']}")
                return reply["result"]

    try:
        target = send("Target.createTarget", {"url": args.url})["targetId"]
        session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        time.sleep(args.seconds)
        state = send("Runtime.evaluate", {"expression": "JSON.stringify(document.body.dataset)",
                                          "returnByValue": True}, session)
        print("page:", state["result"].get("value"))
        shot = send("Page.captureScreenshot", {"format": "png"}, session)
        with open(args.out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        try:
            send("Browser.close")
        except SystemExit:
            pass
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
