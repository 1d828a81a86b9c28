"""The encodings every generator needs, written once from SPEC § 1."""


def varint(n):
    """Unsigned LEB128, the shortest form (SPEC § 1)."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
