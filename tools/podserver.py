#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""podserver.py - the "pod" servers and matching clients of the svcbpf test topology.

Server (runs inside a pod network namespace, stdlib only, one thread per connection):

    podserver.py serve --name pod1 --ip 10.244.1.10 [--max-seconds 600] [--pidfile F]

Every answer names the pod, so a client behind a ClusterIP sees which backend served it:

  TCP 8080  HTTP/1.1 (keep-alive): GET <any path> ->
            "<name> <ip> client=<peer ip>:<peer port>\n"
  TCP 9000  upload: reads everything until the client shuts down its write side, then
            replies "<sha256 hex> <byte count> <name> <ip>\n" and closes.
  TCP 9001  download: reads one request line "[N [SEED]]\n" (N bytes, default 5 MiB; SEED
            default "svcbpf"), replies a header line "<name> <ip> <N> <sha256 hex>\n", then
            the N bytes of gen(N, SEED), then closes.
  UDP 53    each datagram is answered with "<name> <ip>\n" from the port it came to.

The server exits by itself after --max-seconds (a stale server never outlives its test run)
and on SIGTERM/SIGINT.

Clients (run inside the client namespace); each prints one line of key=value pairs:

    podserver.py udp HOST PORT         reply=... from=IP:PORT   (unconnected socket: the
                                       reply is received whatever its source, so a test can
                                       assert the source is the ClusterIP)
    podserver.py upload HOST PORT      sent_bytes sent_sha reply_bytes reply_sha pod match
    podserver.py download HOST PORT    want_bytes want_sha got_bytes got_sha header_sha pod match
    podserver.py keepalive HOST PORT --wait-file F
                                       two GETs on one TCP connection, the second after F
                                       appears (to check an established flow survives a change)
    podserver.py gen [--bytes N] [--seed S]   writes gen(N, S) to stdout
    podserver.py sniff --iface eth0 --stop-file F [--ready-file R]
                                       checks the IPv4, TCP and UDP checksum of every packet
                                       seen on the interface until F appears; prints
                                       "packets=.. full=.. seed=.. nocsum=.. bad=.." and the
                                       first bad packets. An L4 checksum is good if it is the
                                       full checksum or, for a CHECKSUM_PARTIAL packet a veth
                                       hands over unfinished, exactly the pseudo-header seed.
    podserver.py selftest              checks that checker on built good and bad packets

gen(N, SEED) is SHAKE-256 of a fixed prefix and SEED, N bytes long: deterministic,
pseudo-random and identical on both sides.
"""

import argparse
import array
import hashlib
import http.server
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

DEFAULT_BYTES = 5 * 1024 * 1024
MAX_BYTES = 64 * 1024 * 1024  # upper bound of one upload or download
IO_TIMEOUT = 30.0  # seconds a connection may stay idle before the server drops it
PORT_HTTP, PORT_UPLOAD, PORT_DOWNLOAD, PORT_UDP = 8080, 9000, 9001, 53


def gen(nbytes, seed="svcbpf"):
    """Deterministic pseudo-random data: the same (nbytes, seed) gives the same bytes."""
    return hashlib.shake_256(b"svcbpf-podserver:" + seed.encode()).digest(nbytes)


def log(msg):
    sys.stderr.write("podserver[%d] %s %s\n" % (os.getpid(), time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ----------------------------------------------------------------------------- servers

# A listen backlog for bursts (socketserver's default is 5: a burst of connections would lose
# SYNs and wait a second for each retry).
BACKLOG = 1024


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = BACKLOG


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = BACKLOG


class _UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    allow_reuse_address = True
    daemon_threads = True


def make_servers(name, ip, bind, verbose):
    ident = "%s %s" % (name, ip)

    class HTTPHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "podserver"
        timeout = IO_TIMEOUT

        def do_GET(self):
            body = ("%s client=%s:%d\n" % (ident, self.client_address[0],
                                           self.client_address[1])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Pod", name)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            if verbose:
                log("http %s %s" % (self.client_address[0], fmt % args))

    class UploadHandler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(IO_TIMEOUT)
            h, n = hashlib.sha256(), 0
            try:
                while n <= MAX_BYTES:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        break
                    h.update(chunk)
                    n += len(chunk)
                self.request.sendall(("%s %d %s\n" % (h.hexdigest(), n, ident)).encode())
            except OSError as e:
                log("upload from %s failed after %d bytes: %s" % (self.client_address, n, e))
                return
            if verbose:
                log("upload from %s: %d bytes sha256 %s" % (self.client_address, n, h.hexdigest()))

    class DownloadHandler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(IO_TIMEOUT)
            line = b""
            try:
                while b"\n" not in line and len(line) < 256:
                    chunk = self.request.recv(256)
                    if not chunk:
                        break
                    line += chunk
                words = line.split(b"\n")[0].decode(errors="replace").split()
                nbytes = int(words[0]) if words else DEFAULT_BYTES
                seed = words[1] if len(words) > 1 else "svcbpf"
                if not 0 <= nbytes <= MAX_BYTES:
                    raise ValueError("byte count %d out of range" % nbytes)
                data = gen(nbytes, seed)
                sha = hashlib.sha256(data).hexdigest()
                self.request.sendall(("%s %d %s\n" % (ident, nbytes, sha)).encode())
                self.request.sendall(data)
                self.request.shutdown(socket.SHUT_WR)
            except (OSError, ValueError) as e:
                log("download to %s failed: %s" % (self.client_address, e))
                return
            if verbose:
                log("download to %s: %d bytes sha256 %s" % (self.client_address, nbytes, sha))

    class UDPHandler(socketserver.BaseRequestHandler):
        def handle(self):
            _data, sock = self.request
            sock.sendto(("%s\n" % ident).encode(), self.client_address)
            if verbose:
                log("udp from %s" % (self.client_address,))

    http_srv = _HTTPServer((bind, PORT_HTTP), HTTPHandler)
    return [http_srv,
            _TCPServer((bind, PORT_UPLOAD), UploadHandler),
            _TCPServer((bind, PORT_DOWNLOAD), DownloadHandler),
            _UDPServer((bind, PORT_UDP), UDPHandler)]


def cmd_serve(args):
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    servers = make_servers(args.name, args.ip, args.bind, args.verbose)
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in servers]
    for t in threads:
        t.start()
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    log("%s %s serving tcp %d %d %d udp %d for at most %ds" %
        (args.name, args.ip, PORT_HTTP, PORT_UPLOAD, PORT_DOWNLOAD, PORT_UDP, args.max_seconds))
    if not stop.wait(args.max_seconds):
        log("--max-seconds %d reached, exiting" % args.max_seconds)
    # Stop the four loops in parallel (each shutdown() waits up to one poll interval); the
    # connection threads are daemons and end with the process.
    stoppers = [threading.Thread(target=s.shutdown) for s in servers]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join(timeout=2)
    for s in servers:
        s.server_close()
    return 0


# ----------------------------------------------------------------------------- clients

def _connect(host, port, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def _recv_all(sock, limit):
    parts, n = [], 0
    while n <= limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        parts.append(chunk)
        n += len(chunk)
    return b"".join(parts)


def cmd_udp(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # deliberately not connect()ed
    s.settimeout(args.timeout)
    s.sendto(args.message.encode(), (args.host, args.port))
    try:
        data, src = s.recvfrom(2048)
    except socket.timeout:
        print("reply= from= error=timeout")
        return 1
    print("reply=%s from=%s:%d" % (data.decode(errors="replace").strip().replace(" ", "/"),
                                   src[0], src[1]))
    return 0


def cmd_upload(args):
    data = gen(args.bytes, args.seed)
    sha = hashlib.sha256(data).hexdigest()
    with _connect(args.host, args.port, args.timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = _recv_all(s, 4096).decode(errors="replace").split()
    rsha, rbytes = (reply[0], reply[1]) if len(reply) >= 2 else ("none", "-1")
    pod = reply[2] if len(reply) >= 3 else "none"
    match = rsha == sha and int(rbytes) == len(data)
    print("sent_bytes=%d sent_sha=%s reply_bytes=%s reply_sha=%s pod=%s match=%s" %
          (len(data), sha, rbytes, rsha, pod, "yes" if match else "no"))
    return 0 if match else 1


def cmd_download(args):
    want = hashlib.sha256(gen(args.bytes, args.seed)).hexdigest()
    with _connect(args.host, args.port, args.timeout) as s:
        s.sendall(("%d %s\n" % (args.bytes, args.seed)).encode())
        raw = _recv_all(s, MAX_BYTES + 4096)
    header, _, body = raw.partition(b"\n")
    words = header.decode(errors="replace").split()
    pod = words[0] if words else "none"
    hsha = words[3] if len(words) >= 4 else "none"
    got = hashlib.sha256(body).hexdigest()
    match = got == want == hsha and len(body) == args.bytes
    print("want_bytes=%d want_sha=%s got_bytes=%d got_sha=%s header_sha=%s pod=%s match=%s" %
          (args.bytes, want, len(body), got, hsha, pod, "yes" if match else "no"))
    return 0 if match else 1


class ClosedEarly(OSError):
    """The peer closed the connection before the whole answer came."""


def http_get(sock, host):
    """One GET on @sock (HTTP/1.1, keep-alive); returns the body. ClosedEarly if cut short."""
    sock.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ClosedEarly("connection closed before the response headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ClosedEarly("connection closed inside the response body")
        body += chunk
    return body.decode(errors="replace").strip()


def cmd_keepalive(args):
    deadline = time.monotonic() + args.wait_seconds
    with _connect(args.host, args.port, args.timeout) as s:
        print("first=%s" % http_get(s, args.host).split()[0], flush=True)
        while not os.path.exists(args.wait_file):
            if time.monotonic() > deadline:
                print("second= error=wait-file-timeout")
                return 1
            time.sleep(0.05)
        try:
            print("second=%s" % http_get(s, args.host).split()[0])
        except OSError as e:
            print("second= error=%s" % str(e).replace(" ", "_"))
            return 1
    return 0


def _csum_sum(data):
    """The 16-bit ones' complement sum of data (RFC 1071), folded, in network byte order."""
    if len(data) % 2:
        data += b"\0"
    total = sum(array.array("H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    if sys.byteorder == "little":  # the sum of byte-swapped words is the byte-swapped sum
        total = ((total & 0xFF) << 8) | (total >> 8)
    return total


def check_packet(frame):
    """Classify one Ethernet frame: None (not IPv4 TCP/UDP, or a fragment), or
    (verdict, text) with verdict one of full, seed, nocsum, bad."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    tot = struct.unpack("!H", ip[2:4])[0]
    proto = ip[9]
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    if proto not in (6, 17) or ihl < 20 or tot < ihl or len(ip) < tot:
        return None
    if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:  # MF or a fragment offset
        return None
    l4 = ip[ihl:tot]
    if len(l4) < (20 if proto == 6 else 8):
        return None
    sport, dport = struct.unpack("!HH", l4[:4])
    what = "%s %s:%d > %s:%d len %d" % ("tcp" if proto == 6 else "udp", src, sport, dst,
                                         dport, len(l4))
    if _csum_sum(ip[:ihl]) != 0xFFFF:
        return ("bad", what + ": IPv4 header checksum wrong")
    field = struct.unpack("!H", l4[16:18] if proto == 6 else l4[6:8])[0]
    if proto == 17 and field == 0:
        return ("nocsum", what)
    pseudo = ip[12:20] + struct.pack("!BBH", 0, proto, len(l4))
    if _csum_sum(pseudo + l4) == 0xFFFF:
        return ("full", what)
    if field == _csum_sum(pseudo):
        return ("seed", what)
    return ("bad", what + ": L4 checksum 0x%04x is neither the full sum nor the seed 0x%04x"
            % (field, _csum_sum(pseudo)))


def cmd_sniff(args):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))  # ETH_P_ALL
    s.bind((args.iface, 0))
    s.settimeout(0.1)
    counts = {"full": 0, "seed": 0, "nocsum": 0, "bad": 0}
    bad = []
    deadline = time.monotonic() + args.max_seconds
    if args.ready_file:
        open(args.ready_file, "w").close()
    while not os.path.exists(args.stop_file) and time.monotonic() < deadline:
        try:
            frame = s.recv(262144)
        except socket.timeout:
            continue
        r = check_packet(frame)
        if r is None:
            continue
        counts[r[0]] += 1
        if r[0] == "bad" and len(bad) < 5:
            bad.append(r[1])
    print("packets=%d full=%d seed=%d nocsum=%d bad=%d" %
          (sum(counts.values()), counts["full"], counts["seed"], counts["nocsum"], counts["bad"]))
    for b in bad:
        print("  bad: " + b)
    return 0


def cmd_selftest(_args):
    """Check check_packet on built packets: a seed, a full sum, and both after a DNAT that
    forgot the L4 checksum, plus a broken IPv4 header. Exit 0 if all are classified right."""
    def with_ip_csum(h):
        h = bytearray(h)
        h[10:12] = struct.pack("!H", 0xFFFF - _csum_sum(bytes(h[:10]) + b"\0\0" + bytes(h[12:])))
        return bytes(h)

    eth = b"\0" * 12 + b"\x08\x00"
    src, dst, pod = (bytes([10, 244, 0, 5]), bytes([10, 96, 0, 50]), bytes([10, 244, 1, 10]))
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0) + b"hello"
    ip = with_ip_csum(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                                  src, dst))
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    seed = tcp[:16] + struct.pack("!H", _csum_sum(pseudo)) + tcp[18:]
    full = tcp[:16] + struct.pack("!H", 0xFFFF - _csum_sum(pseudo + tcp)) + tcp[18:]
    dnat_ip = with_ip_csum(ip[:16] + pod)
    broken_ip = ip[:8] + b"\x01" + ip[9:]
    cases = [("seed", eth + ip + seed), ("full", eth + ip + full),
             ("bad", eth + dnat_ip + seed), ("bad", eth + dnat_ip + full),
             ("bad", eth + broken_ip + full)]
    ok = True
    for want, frame in cases:
        got = check_packet(frame)
        ok &= got is not None and got[0] == want
        print("%s want=%s got=%s" % ("ok" if got and got[0] == want else "FAIL", want, got))
    return 0 if ok else 1


def cmd_gen(args):
    sys.stdout.buffer.write(gen(args.bytes, args.seed))
    return 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("serve", help="run the pod servers")
    sp.add_argument("--name", required=True)
    sp.add_argument("--ip", required=True, help="the pod IP, echoed in answers")
    sp.add_argument("--bind", default="0.0.0.0")
    sp.add_argument("--max-seconds", type=int, default=600)
    sp.add_argument("--pidfile")
    sp.add_argument("-v", "--verbose", action="store_true")
    sp.set_defaults(func=cmd_serve)

    for name, func in (("udp", cmd_udp), ("upload", cmd_upload), ("download", cmd_download),
                       ("keepalive", cmd_keepalive)):
        cp = sub.add_parser(name)
        cp.add_argument("host")
        cp.add_argument("port", type=int)
        cp.add_argument("--timeout", type=float, default=5.0)
        cp.set_defaults(func=func)
        if name == "udp":
            cp.add_argument("--message", default="hello")
        if name in ("upload", "download"):
            cp.add_argument("--bytes", type=int, default=DEFAULT_BYTES)
            cp.add_argument("--seed", default="svcbpf")
        if name == "keepalive":
            cp.add_argument("--wait-file", required=True)
            cp.add_argument("--wait-seconds", type=float, default=30.0)

    gp = sub.add_parser("gen", help="write the deterministic data to stdout")
    gp.add_argument("--bytes", type=int, default=DEFAULT_BYTES)
    gp.add_argument("--seed", default="svcbpf")
    gp.set_defaults(func=cmd_gen)

    np = sub.add_parser("sniff", help="check the checksums of the packets on an interface")
    np.add_argument("--iface", default="eth0")
    np.add_argument("--stop-file", required=True)
    np.add_argument("--ready-file")
    np.add_argument("--max-seconds", type=float, default=120.0)
    np.set_defaults(func=cmd_sniff)

    tp = sub.add_parser("selftest", help="check the checksum checker on built packets")
    tp.set_defaults(func=cmd_selftest)

    args = p.parse_args(argv)
    if getattr(args, "bytes", 0) and not 0 <= args.bytes <= MAX_BYTES:
        p.error("--bytes must be within 0..%d" % MAX_BYTES)
    try:
        return args.func(args)
    except (OSError, ValueError) as e:
        print("error=%s" % str(e).replace(" ", "_"))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
