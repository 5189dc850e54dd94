"""Find every global a pickle would import, without ever loading it.

The scanner walks the opcodes with `pickletools.genops` (which decodes, never executes) and
simulates just enough of the unpickler's stack to know the module and name behind every
GLOBAL, INST and STACK_GLOBAL, including names fetched back from the memo. Any global
outside a small allowlist of what rebuilding tensors needs makes the file DANGER: a
blocklist can always be walked around (BAD_INPUTS rows 1-4). Containers are opened by
content: torch zip archives (every member sniffed, whatever its name), torch's legacy
format (several pickles in a row), NumPy .npy/.npz with object arrays.
"""

from __future__ import annotations

import io
import pickletools
import struct
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

SUCCESS, DANGER, ERROR = "Success", "Danger", "Error"

# What torch.load and numpy need to rebuild tensors and state dicts, and nothing that can
# call arbitrary code. Names are (module, qualified name).
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "OrderedDict"),
        ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
        ("builtins", "complex"), ("builtins", "bytearray"),
        ("__builtin__", "set"), ("__builtin__", "frozenset"),
        ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_tensor_v3"), ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"), ("torch._utils", "_rebuild_qtensor"),
        ("torch._utils", "_rebuild_sparse_tensor"),
        ("torch._utils", "_rebuild_meta_tensor_no_storage"),
        ("torch._tensor", "_rebuild_from_type_v2"),
        ("torch.nn.parameter", "Parameter"), ("torch", "Size"), ("torch", "Tensor"),
        ("torch", "device"), ("torch", "dtype"), ("torch", "FloatTensor"), ("torch", "HalfTensor"),
        ("torch.serialization", "_get_layout"), ("torch", "strided"), ("torch", "sparse_coo"),
        ("torch", "per_tensor_affine"), ("torch", "per_channel_affine"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles carry bytes
    }
    | {
        ("torch", f"{kind}Storage")
        for kind in ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char",
                     "Byte", "Bool", "ComplexFloat", "ComplexDouble", "QInt8", "QUInt8",
                     "QInt32", "Untyped")
    }
    | {
        ("torch", dtype)
        for dtype in ("float16", "float32", "float64", "bfloat16", "half", "float", "double",
                      "int8", "uint8", "int16", "int32", "int64", "bool", "float8_e4m3fn",
                      "float8_e5m2", "complex64", "complex128")
    }
)  # fmt: skip

PICKLE_BYTES_CAP = 2 * 1024**3  # one pickle stream; real ones are far smaller
MEMBER_SNIFF = 8
ZIP_MEMBERS_CAP = 100_000
LEGACY_PICKLES = 5  # torch's legacy format: magic, protocol, sys info, object, storage keys
NUMPY_MAGIC = b"\x93NUMPY"


@dataclass
class ScanResult:
    status: str
    globals: set[str] = field(default_factory=set)
    dangerous: set[str] = field(default_factory=set)
    message: str = ""
    scanned_pickles: int = 0

    def merge(self, other: ScanResult) -> None:
        """Combine two results: Danger beats Error beats Success."""
        order = {SUCCESS: 0, ERROR: 1, DANGER: 2}
        if order[other.status] > order[self.status]:
            self.status = other.status
        self.globals |= other.globals
        self.dangerous |= other.dangerous
        self.scanned_pickles += other.scanned_pickles
        if other.message and other.message not in self.message:
            self.message = "; ".join(part for part in (self.message, other.message) if part)


class _Capped:
    """A reader that refuses to give more than `cap` bytes (zip bombs, lying sizes).

    It has no `tell`, on purpose: pickletools then does not ask for positions, which a
    compressed zip member could only give by seeking.
    """

    def __init__(self, stream: BinaryIO, cap: int) -> None:
        self._stream = (
            io.BufferedReader(_RawAdapter(stream)) if not hasattr(stream, "peek") else stream
        )
        self._left = cap

    def _take(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise _TooLarge
        return data

    def read(self, size: int = -1) -> bytes:
        return self._take(self._stream.read(size))

    def readline(self) -> bytes:
        return self._take(self._stream.readline())

    def peek(self, size: int) -> bytes:
        return self._stream.peek(size)


class _RawAdapter(io.RawIOBase):
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _TooLarge(Exception):
    pass


class _NotAPickle(Exception):
    pass


_STRING_OPS = {
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8",
}  # fmt: skip
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MARK = object()
_UNKNOWN = object()


def scan_pickle_stream(stream: BinaryIO, *, label: str = "pickle") -> ScanResult:
    """Scan one pickle from the current position up to its STOP opcode."""
    result = ScanResult(status=SUCCESS, scanned_pickles=1)
    stack: list[object] = []
    memo: dict[int, object] = {}

    def pop() -> object:
        if not stack:
            raise _NotAPickle("stack underflow")
        return stack.pop()

    def pop_to_mark() -> None:
        while True:
            if pop() is _MARK:
                return

    def record(module: object, name: object) -> None:
        if not isinstance(module, str) or not isinstance(name, str):
            result.status = DANGER
            result.dangerous.add(f"{label}: an import whose name is computed, not written out")
            return
        qualified = f"{module}.{name}"
        result.globals.add(qualified)
        if (module, name) not in SAFE_GLOBALS:
            result.status = DANGER
            result.dangerous.add(qualified)

    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            name = opcode.name
            if name in _STRING_OPS:
                stack.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
            elif name in _GET_OPS:
                stack.append(memo.get(arg, _UNKNOWN))
            elif name in _PUT_OPS:
                memo[arg] = stack[-1] if stack else _UNKNOWN
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else _UNKNOWN
            elif name == "DUP":
                stack.append(stack[-1] if stack else _UNKNOWN)
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                record(module, attr)
                if name == "INST":
                    pop_to_mark()
                stack.append(_UNKNOWN)
            elif name == "STACK_GLOBAL":
                attr, module = pop(), pop()
                record(module, attr)
                stack.append(_UNKNOWN)
            elif name in ("EXT1", "EXT2", "EXT4"):
                # The copyreg extension registry maps numbers to any global.
                result.status = DANGER
                result.dangerous.add(f"{label}: extension code {arg}")
                stack.append(_UNKNOWN)
            elif name == "STOP":
                return result
            else:
                for item in reversed(opcode.stack_before):
                    if item.name == "stackslice":
                        while stack and stack[-1] is not _MARK:
                            stack.pop()
                    elif item.name == "mark":
                        if pop() is not _MARK:
                            raise _NotAPickle("mark expected")
                    else:
                        pop()
                for item in opcode.stack_after:
                    stack.append(_MARK if item.name == "mark" else _UNKNOWN)
    except _TooLarge:
        return ScanResult(ERROR, result.globals, result.dangerous,
                          f"{label}: larger than {PICKLE_BYTES_CAP:,} bytes")  # fmt: skip
    except (_NotAPickle, ValueError, EOFError, struct.error, UnicodeDecodeError) as exc:
        if result.status == DANGER:
            return result
        raise _NotAPickle(f"{label}: not a complete pickle ({exc})") from None
    raise _NotAPickle(f"{label}: ended without STOP")


def _scan_pickles(stream: BinaryIO, label: str, max_pickles: int) -> ScanResult:
    """One or more pickles in a row (torch's legacy format writes five)."""
    result = ScanResult(status=SUCCESS)
    capped = _Capped(stream, PICKLE_BYTES_CAP)
    for index in range(max_pickles):
        head = capped.peek(2)[:2]
        if index > 0 and not (len(head) == 2 and head[0] == 0x80):
            break  # the raw storage data that follows the pickles
        try:
            result.merge(scan_pickle_stream(capped, label=label))
        except _NotAPickle as exc:
            if index == 0:
                return ScanResult(ERROR, message=str(exc))
            break
    return result


def _scan_numpy(stream: BinaryIO, label: str) -> ScanResult:
    """A .npy array: plain dtypes are data; an object array carries a pickle."""
    magic = stream.read(8)
    if magic[:6] != NUMPY_MAGIC:
        return ScanResult(ERROR, message=f"{label}: not a NumPy file")
    major = magic[6]
    size_format = "<H" if major == 1 else "<I"
    raw_length = stream.read(struct.calcsize(size_format))
    if len(raw_length) != struct.calcsize(size_format):
        return ScanResult(ERROR, message=f"{label}: truncated NumPy header")
    (header_length,) = struct.unpack(size_format, raw_length)
    header = stream.read(min(header_length, 1 << 20)).decode("latin-1", "replace")
    if "'O'" in header or '"O"' in header or "|O" in header:
        return _scan_pickles(stream, f"{label} (object array)", 1)
    return ScanResult(SUCCESS)


def _sniff_kind(head: bytes) -> str:
    if head.startswith(NUMPY_MAGIC):
        return "numpy"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if head[:1] in (b"(", b"c", b"]", b"}", b"I", b"N", b"S", b"V"):
        return "pickle0"  # protocol 0/1 pickles start with an ordinary opcode
    return "data"


def _scan_zip(stream: BinaryIO, label: str) -> ScanResult:
    result = ScanResult(status=SUCCESS)
    try:
        archive = zipfile.ZipFile(stream)
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        return ScanResult(ERROR, message=f"{label}: unreadable zip ({exc})")
    if len(members) > ZIP_MEMBERS_CAP:
        return ScanResult(ERROR, message=f"{label}: more than {ZIP_MEMBERS_CAP:,} members")
    for member in members:
        if member.is_dir():
            continue
        name = f"{label}:{member.filename[:200]}"
        if member.flag_bits & 0x1:
            return ScanResult(ERROR, message=f"{name}: encrypted members cannot be checked")
        try:
            with archive.open(member) as handle:
                head = handle.read(MEMBER_SNIFF)
            kind = _sniff_kind(head)
            if member.filename.endswith((".pkl", ".pickle")) and kind == "data":
                kind = "pickle"  # named as a pickle: it must parse as one, or it is an error
            if kind == "data":
                continue
            with archive.open(member) as handle:
                if kind == "numpy":
                    member_result = _scan_numpy(handle, name)
                elif kind == "zip":
                    member_result = ScanResult(ERROR, message=f"{name}: a zip inside a zip")
                else:
                    member_result = _scan_pickles(handle, name, 1)
            if member_result.status == ERROR and kind == "pickle0" and not name.endswith(".pkl"):
                continue  # data that merely starts like a protocol-0 opcode
            result.merge(member_result)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            # A member that cannot be read is never assumed clean (bad CRC, bad method).
            result.merge(ScanResult(ERROR, message=f"{name}: unreadable ({exc})"))
    return result


def scan_stream(stream: BinaryIO, *, label: str = "file") -> ScanResult:
    """Scan a model file of any pickle-bearing kind, sniffed from its first bytes."""
    stream.seek(0)
    head = stream.read(MEMBER_SNIFF)
    stream.seek(0)
    kind = _sniff_kind(head)
    if kind == "zip":
        return _scan_zip(stream, label)
    if kind == "numpy":
        return _scan_numpy(stream, label)
    if kind in ("pickle", "pickle0"):
        return _scan_pickles(stream, label, LEGACY_PICKLES)
    return ScanResult(ERROR, message=f"{label}: not a pickle, torch or NumPy file")


def describe(result: ScanResult) -> str:
    """The message shown to people for a scan."""
    if result.status == DANGER:
        names = ", ".join(sorted(result.dangerous)[:20])
        return f"Imports code outside the safe list: {names}"
    if result.status == ERROR:
        return f"Could not be checked: {result.message}"
    return f"{result.scanned_pickles} pickle(s) checked; only tensor-rebuilding globals."


def picklescan_opinion(stream: BinaryIO, *, label: str = "file") -> ScanResult:
    """picklescan's verdict on the same bytes: it knows attack patterns we might not."""
    import logging

    from picklescan import scanner as picklescan

    logging.getLogger("picklescan").setLevel(logging.ERROR)
    stream.seek(0)
    extension = ".npy" if stream.read(6) == NUMPY_MAGIC else ".pt"
    stream.seek(0)
    try:
        found = picklescan.scan_bytes(stream, label, extension)
    except Exception as exc:  # noqa: BLE001 - any failure of the second opinion is an error
        return ScanResult(ERROR, message=f"picklescan could not read it ({exc.__class__.__name__})")
    dangerous = {f"{g.module}.{g.name}" for g in found.globals if str(g.safety.name) == "Dangerous"}
    if found.infected_files or dangerous:
        return ScanResult(DANGER, dangerous=dangerous or {"(picklescan)"},
                          message="picklescan found dangerous imports")  # fmt: skip
    if found.scan_err:
        return ScanResult(ERROR, message="picklescan could not finish")
    return ScanResult(SUCCESS)


def scan_model_stream(stream: BinaryIO, *, label: str = "file") -> ScanResult:
    """Our scanner and picklescan: Danger from either is Danger, an error from either is an
    Error, and only two clean verdicts make a clean file."""
    result = scan_stream(stream, label=label)
    result.merge(picklescan_opinion(stream, label=label))
    return result
