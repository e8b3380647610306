"""`pods/exec` over WebSocket: the channel protocol of kubectl ≥ 1.30 and the Python client.

Each binary message starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 the final
Status (JSON), 4 terminal size, 255 "close this channel" (v5). Nothing runs on this
machine: a pod answers a handful of simulated commands (`hostname`, `env`, `ps`, `id`,
`cat /etc/hostname`, `echo`, `date`, `pwd`, `ls`, `true`, `false`), and a shell
(`sh`, `bash`, or `sh -c` with envdeck's "exec bash or sh" line) is a prompt over them,
with the echo and line editing a terminal's line discipline would give (the client's
terminal is raw during `kubectl exec -it`).
"""

from __future__ import annotations

import json
import posixpath
import shlex
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from .status import ApiError

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
SHELLS = {"sh", "bash", "ash", "dash"}
TRUTHY = ("true", "True", "1")


def _container(pod: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    containers = pod.get("spec", {}).get("containers") or []
    name = pod["metadata"]["name"]
    if not containers:
        raise ApiError(400, f"pod {name} has no containers")
    if wanted is None:
        return containers[0]
    for c in containers:
        if c.get("name") == wanted:
            return c
    raise ApiError(400, f"container {wanted} is not valid for pod {name}")


class PodShell:
    """The simulated commands of one container of one pod."""

    def __init__(self, pod: dict[str, Any], container: dict[str, Any]):
        self.pod, self.container = pod, container

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of one command line, already split."""
        if not argv:
            return 0, "", ""
        name = posixpath.basename(argv[0])
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            return 127, "", f"sh: {argv[0]}: not found (envdeck emulator: only simple commands are simulated)\n"
        return handler(argv[1:])

    def run_line(self, line: str) -> tuple[int, str, str]:
        if any(ch in line for ch in ";|&<>()$`"):
            return 2, "", "sh: envdeck emulator: only simple commands are simulated (no operators, no expansions)\n"
        try:
            return self.run(shlex.split(line))
        except ValueError as exc:
            return 2, "", f"sh: syntax error: {exc}\n"

    def _cmd_hostname(self, _args: list[str]) -> tuple[int, str, str]:
        return 0, self.pod["metadata"]["name"] + "\n", ""

    def _cmd_cat(self, args: list[str]) -> tuple[int, str, str]:
        if args == ["/etc/hostname"]:
            return self._cmd_hostname([])
        return 1, "", "".join(f"cat: {a}: No such file or directory\n" for a in args)

    def _cmd_env(self, _args: list[str]) -> tuple[int, str, str]:
        lines = [f"HOSTNAME={self.pod['metadata']['name']}", "PATH=/usr/local/bin:/usr/bin:/bin"]
        lines += [f"{e['name']}={e['value']}" for e in self.container.get("env") or [] if "value" in e]
        return 0, "".join(line + "\n" for line in lines), ""

    def _cmd_ps(self, _args: list[str]) -> tuple[int, str, str]:
        main = " ".join([*(self.container.get("command") or []), *(self.container.get("args") or [])]) \
            or self.container.get("image", "")
        return 0, f"PID   USER     COMMAND\n    1 root     {main}\n", ""

    def _cmd_id(self, _args: list[str]) -> tuple[int, str, str]:
        return 0, "uid=0(root) gid=0(root) groups=0(root)\n", ""

    def _cmd_echo(self, args: list[str]) -> tuple[int, str, str]:
        return 0, " ".join(args) + "\n", ""

    def _cmd_date(self, _args: list[str]) -> tuple[int, str, str]:
        return 0, datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y") + "\n", ""

    def _cmd_pwd(self, _args: list[str]) -> tuple[int, str, str]:
        return 0, "/\n", ""

    def _cmd_ls(self, _args: list[str]) -> tuple[int, str, str]:
        return 0, "bin  dev  etc  home  proc  root  sys  tmp  usr  var\n", ""

    def _cmd_true(self, _args: list[str]) -> tuple[int, str, str]:
        return 0, "", ""

    def _cmd_false(self, _args: list[str]) -> tuple[int, str, str]:
        return 1, "", ""


def _is_shell(argv: list[str]) -> bool:
    """`sh`, `bash`, or `sh -c '… exec bash || exec sh'` (envdeck's own shell line)."""
    if not argv or posixpath.basename(argv[0]) not in SHELLS:
        return False
    if len(argv) == 1:
        return True
    return len(argv) == 3 and argv[1] == "-c" and "exec bash" in argv[2] and "exec sh" in argv[2]


def status(code: int, argv: list[str]) -> bytes:
    if code == 0:
        doc: dict[str, Any] = {"metadata": {}, "status": "Success"}
    else:
        doc = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
               "message": f"command terminated with non-zero exit code: error executing command {argv}, "
                          f"exit code {code}",
               "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    return bytes([ERROR]) + json.dumps(doc).encode()


async def serve_exec(request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    q = request.query
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(400, "Upgrade request required")
    argv = q.getall("command", [])
    if not argv:
        raise ApiError(400, "you must specify at least 1 command")
    container = _container(pod, q.get("container"))
    if (pod.get("status") or {}).get("phase") != "Running":
        raise ApiError(400, f"unable to upgrade connection: container not found (\"{container.get('name')}\")")
    shell = PodShell(pod, container)
    ws = web.WebSocketResponse(protocols=PROTOCOLS, heartbeat=None)
    await ws.prepare(request)
    tty = q.get("tty") in TRUTHY
    try:
        if _is_shell(argv) and q.get("stdin") in TRUTHY:
            code = await _interactive(ws, shell, tty)
        elif len(argv) == 3 and posixpath.basename(argv[0]) in SHELLS and argv[1] == "-c":
            code, out, err = shell.run_line(argv[2])
            await _send(ws, out, err, tty)
        else:
            code, out, err = shell.run(argv)
            await _send(ws, out, err, tty)
        await ws.send_bytes(status(code, argv))
    except ConnectionResetError:
        pass
    finally:
        await ws.close()
    return ws


async def _send(ws: web.WebSocketResponse, out: str, err: str, tty: bool) -> None:
    if tty:  # one stream, with a terminal's line endings
        out, err = (out + err).replace("\n", "\r\n"), ""
    if out:
        await ws.send_bytes(bytes([STDOUT]) + out.encode())
    if err:
        await ws.send_bytes(bytes([STDERR]) + err.encode())


async def _interactive(ws: web.WebSocketResponse, shell: PodShell, tty: bool) -> int:
    """A prompt over the simulated commands until `exit`, ctrl+d on an empty line, or
    the client leaving. With a terminal: echo, backspace, ctrl+c and ctrl+u, as a line
    discipline does."""
    name = shell.pod["metadata"]["name"]
    prompt = f"root@{name}:/# "
    await _send(ws, f"envdeck emulator: pod {name} is simulated; simple commands only, exit to leave\n", "", tty)
    await _send(ws, prompt, "", tty)
    line, last = "", 0
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
            continue
        channel, data = msg.data[0], msg.data[1:]
        if channel == CLOSE or channel != STDIN:
            continue  # 4: terminal size (nothing is laid out here)
        for ch in data.decode(errors="replace"):
            if ch in "\r\n":
                if tty:
                    await _send(ws, "\n", "", tty)
                command, line = line.strip(), ""
                if command in ("exit", "logout"):
                    return last
                if command:
                    last, out, err = shell.run_line(command)
                    await _send(ws, out, err, tty)
                await _send(ws, prompt, "", tty)
            elif ch == "\x04" and not line:  # ctrl+d
                return last
            elif ch == "\x03":  # ctrl+c: the line is dropped
                line = ""
                await _send(ws, "^C\n" + prompt, "", tty)
            elif ch == "\x15":  # ctrl+u
                if tty:
                    await _send(ws, "\b \b" * len(line), "", tty)
                line = ""
            elif ch in "\x7f\b":
                if line:
                    line = line[:-1]
                    if tty:
                        await _send(ws, "\b \b", "", tty)
            elif ch.isprintable():
                line += ch
                if tty:
                    await _send(ws, ch, "", tty)
    return last
