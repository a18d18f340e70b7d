"""A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe` (no websocket
library): headless Chromium on a page, JavaScript evaluated in it, screenshots.

    with Browser(chromium, flags, "http://127.0.0.1:8000/web/", size=(1280, 900)) as page:
        page.wait("document.body.dataset.state === 'done'", timeout=300)
        page.evaluate("document.title")
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time


class PageError(RuntimeError):
    pass


class Browser:
    def __init__(self, chromium: str, flags: list[str], url: str, size=(1280, 900), mobile=False):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self._log = open(os.path.join(self.profile, "stderr.log"), "w+b")  # noqa: SIM115
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # fds 3 and 4 in the child: commands in, replies out (move ours out of the way first)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 20) for fd in (to_chrome_r, from_chrome_w)]
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)

        def setup():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [chromium, *flags, f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             f"--window-size={size[0]},{size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self._log, pass_fds=(3, 4),
            preexec_fn=setup,
        )  # fmt: skip
        for fd in high:
            os.close(fd)
        self._out = os.fdopen(to_chrome_w, "wb")
        self._in = os.fdopen(from_chrome_r, "rb")
        self._buffer = b""
        self._id = 0
        self.console: list[str] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        attached = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        self.session = attached["sessionId"]
        self.call("Runtime.enable", session=True)
        if mobile:
            self.call("Emulation.setDeviceMetricsOverride", session=True, width=size[0],
                      height=size[1], deviceScaleFactor=2, mobile=True)  # fmt: skip
        self.call("Page.enable", session=True)
        self.call("Page.navigate", session=True, url=url)

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._in.fileno(), 1 << 20)
            if not chunk:
                self._log.seek(0)
                raise PageError(f"Chromium closed the pipe: {self._log.read()[-1500:]!r}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        self._out.flush()
        while True:
            reply = self._read()
            if reply.get("method") == "Runtime.consoleAPICalled":
                args = reply["params"]["args"]
                text = " ".join(str(a.get("value", a.get("description"))) for a in args)
                self.console.append(text)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise PageError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           awaitPromise=True, returnByValue=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise PageError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 120, poll: float = 0.25):
        """Waits until `expression` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except PageError:
                value = None
            if value:
                return value
            time.sleep(poll)
        state = self.evaluate("document.body && [document.body.dataset.state, "
                              "document.getElementById('status').textContent]")  # fmt: skip
        raise TimeoutError(f"{expression!r} not true after {timeout} s; page: {state}; "
                           f"console: {self.console[-5:]}")  # fmt: skip

    def screenshot(self, path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png",
                         captureBeyondViewport=False)["data"]  # fmt: skip
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def canvas_rgba(self, canvas_id: str):
        """(height, width, 4) uint8 pixels of a canvas."""
        import numpy as np

        h, w, data = self.evaluate(f"""(() => {{
            const c = document.getElementById({json.dumps(canvas_id)});
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let s = ''; for (let i = 0; i < px.length; i += 32768)
                s += String.fromCharCode.apply(null, px.subarray(i, i + 32768));
            return [c.height, c.width, btoa(s)];
        }})()""")
        return np.frombuffer(base64.b64decode(data), np.uint8).reshape(h, w, 4)

    def close(self) -> None:
        try:
            self._out.close()
        except OSError:
            pass
        self.proc.kill()
        self.proc.wait()
        self._in.close()
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
