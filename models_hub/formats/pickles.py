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

import ast
import collections
import io
import lzma
import pickletools
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

SUCCESS, DANGER, ERROR = "Success", "Danger", "Error"
# Bump when the rules change: earlier verdicts are then not reused for new uploads.
SCANNER_VERSION = 2

# What torch.load and numpy need to rebuild tensors and state dicts, and nothing that can
# call arbitrary code. Names are (module, qualified name).
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "OrderedDict"),
    }
    | {
        # Protocols 0-2 name the builtins module __builtin__ (Python 2's name).
        (module, name)
        for module in ("builtins", "__builtin__")
        for name in ("set", "frozenset", "slice", "complex", "bytearray", "bytes")
    }
    | {
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
    legacy_torch: bool = False

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

    A request past the cap fails before anything is read or allocated. It has no `tell`,
    on purpose: pickletools then asks for no positions, which a compressed zip member could
    only give by seeking.
    """

    def __init__(self, stream: BinaryIO, cap: int) -> None:
        self._stream = stream if hasattr(stream, "peek") else io.BufferedReader(_Raw(stream))
        self._left = cap

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left + 1
            data = self._stream.read(size)
        else:
            data = self._stream.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise _TooLarge
        return data

    def readline(self) -> bytes:
        data = self._stream.readline(self._left + 1)
        self._left -= len(data)
        if self._left < 0:
            raise _TooLarge
        return data

    def peek(self, size: int) -> bytes:
        return self._stream.peek(size)


class _Raw(io.RawIOBase):
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


class _LastLines:
    """The stream as pickletools reads it, keeping the last two lines read: the raw module
    and name of a GLOBAL or INST. pickletools undoes backslash escapes in those names and
    the unpickler does not, so `c__builtin_\\x5f` would read as a safe `__builtin__` here
    while a loader imports something else (found by tests/fuzz). Like _Capped, no `tell`.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.lines: collections.deque[bytes] = collections.deque(maxlen=2)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def readline(self) -> bytes:
        line = self._stream.readline()
        self.lines.append(line)
        return line


class _NotAPickle(Exception):
    def __init__(self, message: str, opcodes_read: int) -> None:
        super().__init__(message)
        self.opcodes_read = opcodes_read


_STRING_OPS = {
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8",
}  # fmt: skip
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MARK = object()
_UNKNOWN = object()
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


def scan_pickle_stream(stream: BinaryIO, *, label: str = "pickle") -> ScanResult:
    """Scan one pickle from the current position up to its STOP opcode.

    Raises _NotAPickle when the bytes stop making sense; `opcodes_read` then says whether
    they never looked like a pickle (0) or broke off in the middle.
    """
    result = ScanResult(status=SUCCESS, scanned_pickles=1)
    stack: list[object] = []
    memo: dict[int, object] = {}
    count = 0

    def pop() -> object:
        if not stack:
            raise _NotAPickle(f"{label}: stack underflow", count)
        return stack.pop()

    def pop_to_mark() -> None:
        while pop() is not _MARK:
            pass

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

    reader = _LastLines(stream)
    try:
        for opcode, arg, _pos in pickletools.genops(reader):
            count += 1
            name = opcode.name
            if type(arg) is int and arg == LEGACY_TORCH_MAGIC:
                # torch's legacy format, whichever integer opcode spells the number.
                result.legacy_torch = True
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
                # The names as the unpickler reads them: the raw lines, as UTF-8.
                module, attr = (line[:-1].decode("utf-8", "replace") for line in reader.lines)
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
                # The opcode's stack effect, as pickletools documents it. Items listed
                # before "mark" sit below the mark; "stackslice" is everything above it.
                before = [item.name for item in opcode.stack_before]
                if "mark" in before:
                    pop_to_mark()
                    for _ in range(before.index("mark")):
                        pop()
                else:
                    for _ in before:
                        pop()
                for item in opcode.stack_after:
                    stack.append(_MARK if item.name == "mark" else _UNKNOWN)
    except (_TooLarge, MemoryError):
        message = f"{label}: larger than the {PICKLE_BYTES_CAP:,}-byte limit for one pickle"
        if result.status == DANGER:
            result.message = message
            return result
        raise _NotAPickle(message, count) from None
    except _NotAPickle:
        if result.status == DANGER:
            return result
        raise
    except (ValueError, EOFError, struct.error, UnicodeDecodeError, OverflowError) as exc:
        if result.status == DANGER:
            return result
        raise _NotAPickle(f"{label}: not a complete pickle ({exc})", count) from None
    if result.status == DANGER:
        return result
    raise _NotAPickle(f"{label}: ended without STOP", count)


def _scan_pickle_file(stream: BinaryIO, label: str) -> ScanResult:
    """A raw pickle file, or torch's legacy format (five pickles, then raw storage bytes)."""
    capped = _Capped(stream, PICKLE_BYTES_CAP)
    try:
        result = scan_pickle_stream(capped, label=label)
    except _NotAPickle as exc:
        return ScanResult(ERROR, message=str(exc))
    if result.legacy_torch:
        # torch's legacy loader unpickles all five, whatever they start with.
        for index in range(2, LEGACY_PICKLES + 1):
            try:
                result.merge(scan_pickle_stream(capped, label=f"{label} (pickle {index})"))
            except _NotAPickle as exc:
                result.merge(ScanResult(ERROR, message=str(exc)))
                break
        return result
    # A plain pickle: anything after it must be further pickles we can read, since a loader
    # may read on (pickletools and the unpickler disagree on some inputs, e.g. "I0x1").
    while capped.peek(1)[:1]:
        try:
            result.merge(scan_pickle_stream(capped, label=f"{label} (next pickle)"))
        except _NotAPickle as exc:
            result.merge(ScanResult(ERROR, message=f"{exc}; bytes after the pickle"))
            break
    return result


_PLAIN_DTYPE = re.compile(r"^[<>|=]?[?bBhHiIlLqQefdgFDGbiufcSUaV]\d*$|^[<>|=]?[mM]8(\[\w+\])?$")
NUMPY_HEADER_CAP = 1 << 20


def _plain_descr(descr: object) -> bool:
    """True for dtypes made only of numbers, strings and bytes: no object fields."""
    if isinstance(descr, str):
        return bool(_PLAIN_DTYPE.match(descr))
    if isinstance(descr, list):
        return all(
            isinstance(field, (list, tuple)) and len(field) >= 2 and _plain_descr(field[1])
            for field in descr
        )
    return False


def _scan_numpy(stream: BinaryIO, label: str) -> ScanResult:
    """A .npy array: plain dtypes are data; anything else may carry a pickle."""
    magic = stream.read(8)
    if magic[:6] != NUMPY_MAGIC:
        return ScanResult(ERROR, message=f"{label}: not a NumPy file")
    if len(magic) < 8:  # the magic alone: no version bytes to read (was an IndexError)
        return ScanResult(ERROR, message=f"{label}: truncated NumPy header")
    size_format = "<H" if magic[6] == 1 else "<I"
    raw_length = stream.read(struct.calcsize(size_format))
    if len(raw_length) != struct.calcsize(size_format):
        return ScanResult(ERROR, message=f"{label}: truncated NumPy header")
    (header_length,) = struct.unpack(size_format, raw_length)
    if header_length > NUMPY_HEADER_CAP:
        return ScanResult(ERROR, message=f"{label}: NumPy header too large to check")
    try:
        header = ast.literal_eval(stream.read(header_length).decode("latin-1"))
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        # TypeError: a literal that cannot be built, such as a dict with a list for a key.
        return ScanResult(ERROR, message=f"{label}: unreadable NumPy header")
    if not isinstance(header, dict) or "descr" not in header:
        return ScanResult(ERROR, message=f"{label}: NumPy header without a dtype")
    if _plain_descr(header["descr"]):
        return ScanResult(SUCCESS)
    capped = _Capped(stream, PICKLE_BYTES_CAP)
    try:
        return scan_pickle_stream(capped, label=f"{label} (object array)")
    except _NotAPickle as exc:
        return ScanResult(ERROR, message=str(exc))


# Small bookkeeping members torch writes next to data.pkl; never unpickled.
TORCH_PLAIN_MEMBERS = {"version", "byteorder", "serialization_id", ".format_version",
                       ".storage_alignment"}  # fmt: skip


def _is_storage_member(path: str) -> bool:
    """torch's tensor storages: archive/data/<number>, read as raw bytes, never unpickled."""
    parts = path.split("/")
    return len(parts) >= 2 and parts[-2] == "data" and parts[-1].isdigit()


def _scan_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str) -> ScanResult:
    path = member.filename
    name = f"{label}:{path}"
    with archive.open(member) as handle:
        head = handle.peek(8)[:8] if hasattr(handle, "peek") else b""
        if head.startswith(NUMPY_MAGIC):
            return _scan_numpy(handle, name)
        if head.startswith(b"PK\x03\x04"):
            return ScanResult(ERROR, message=f"{name}: a zip inside a zip")
        capped = _Capped(handle, PICKLE_BYTES_CAP)
        try:
            result = scan_pickle_stream(capped, label=name)
        except _NotAPickle as exc:
            storage = _is_storage_member(path)
            if path.endswith((".pkl", ".pickle")) and not storage:
                return ScanResult(ERROR, message=str(exc))
            if exc.opcodes_read == 0 or storage or path.rsplit("/", 1)[-1] in TORCH_PLAIN_MEMBERS:
                return ScanResult(SUCCESS)  # data, not a pickle
            return ScanResult(ERROR, message=str(exc))
        # Read the rest of a pickle member, so zipfile checks its CRC.
        try:
            while capped.read(1 << 20):
                pass
        except _TooLarge:
            pass
        return result


# What reading a damaged zip can raise. Besides zipfile's own errors, each decompressor has
# its own: zlib.error (deflate), lzma.LZMAError (lzma; bz2 raises OSError), and
# NotImplementedError for a version or method zipfile does not know. Found by tests/fuzz.
_UNREADABLE_ZIP = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
)


def _scan_zip(stream: BinaryIO, label: str) -> ScanResult:
    result = ScanResult(status=SUCCESS)
    try:
        archive = zipfile.ZipFile(stream)
        members = archive.infolist()
    except _UNREADABLE_ZIP as exc:
        return ScanResult(ERROR, message=f"{label}: unreadable zip ({exc})")
    if len(members) > ZIP_MEMBERS_CAP:
        return ScanResult(ERROR, message=f"{label}: more than {ZIP_MEMBERS_CAP:,} members")
    for member in members:
        # Not member.is_dir(): it raises IndexError for a member with an empty name.
        if member.filename.endswith("/"):
            continue
        if member.flag_bits & 0x1:
            # Never assumed clean, and the other members are still scanned for danger.
            result.merge(ScanResult(ERROR, message=f"{label}:{member.filename}: encrypted"))
            continue
        try:
            result.merge(_scan_member(archive, member, label))
        except _UNREADABLE_ZIP as exc:
            # A member that cannot be read is never assumed clean (bad CRC, bad method).
            result.merge(
                ScanResult(ERROR, message=f"{label}:{member.filename}: unreadable ({exc})")
            )
    return result


def scan_stream(stream: BinaryIO, *, label: str = "file") -> ScanResult:
    """Scan a model file of any pickle-bearing kind, sniffed from its first bytes.

    Tensor storage members of a torch zip are sniffed but not read to their end, so their
    CRC is not checked here; the file's SHA256, checked at upload, covers its integrity.
    """
    stream.seek(0)
    head = stream.read(MEMBER_SNIFF)
    stream.seek(0)
    if not head:
        return ScanResult(ERROR, message=f"{label}: empty file")
    if head.startswith(b"PK\x03\x04"):
        return _scan_zip(stream, label)
    if head.startswith(NUMPY_MAGIC):
        return _scan_numpy(stream, label)
    return _scan_pickle_file(stream, label)


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
    # picklescan's "Suspicious" means "not on its safe list": not clean either.
    dangerous = {
        f"{g.module}.{g.name}"
        for g in found.globals
        if str(g.safety.name) in ("Dangerous", "Suspicious")
    }
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
