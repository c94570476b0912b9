"""Which local addresses a TCP port listens on, read from /proc/net/tcp and tcp6 (Linux)."""
from __future__ import annotations

import socket
import struct
from pathlib import Path

LISTEN = "0A"


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(hex_address, 16)))
    words = [struct.pack("<I", int(hex_address[i:i + 8], 16)) for i in range(0, 32, 8)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))


def listening_addresses(port: int) -> set:
    """The addresses something listens on at `port` ("0.0.0.0" and "::" mean every interface)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.split(":")
            if state == LISTEN and int(port_hex, 16) == port:
                found.add(_address(address))
    return found
