#!/usr/bin/env python3
"""The initial context size of every async function in a binary, largest first.

  bench/async-frames.py BINARY [FILTER]

Each async function's context (its frame) is allocated from its task's allocator when it is
called, and a task keeps the allocator's slabs for as long as it lives: for a connection's task,
as long as the connection, so for an open stream, as long as the stream. The size is the second
32-bit word of the function's async function pointer (the `…Tu` symbol). Names are demangled with
`swift demangle`; FILTER keeps the lines that contain it (e.g. GatewayHandler).
"""
import struct
import subprocess
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary, wanted = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    symbols = []
    for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].endswith("Tu"):
            symbols.append((int(parts[0], 16), parts[2]))
    loads = []
    for line in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            loads.append((int(parts[2], 16), int(parts[1], 16), int(parts[4], 16)))
    with open(binary, "rb") as file:
        data = file.read()
    sizes = []
    for address, name in symbols:
        for start, offset, length in loads:
            if start <= address < start + length:
                at = offset + address - start
                sizes.append((struct.unpack("<I", data[at + 4:at + 8])[0], name))
                break
    sizes.sort(reverse=True)
    names = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(n for _, n in sizes),
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for (size, _), name in zip(sizes, names):
        if wanted in name:
            print(size, name.removeprefix("async function pointer to "))


if __name__ == "__main__":
    main()
