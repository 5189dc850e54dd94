"""Fuzzing the pickle scanner: `scan_stream` returns a verdict for any bytes (its documented
behaviour: a file it cannot read is an Error, never an exception), and a pickle that would
import a global outside the allowlist is never reported clean.

Inputs are built from real opcodes with arguments of the right and the wrong shape: random
opcode programs, benign pickles made by `pickle.dumps` at every protocol with fragments
spliced in at opcode boundaries (GLOBAL, STACK_GLOBAL with names pushed by every string
opcode and fetched back from the memo, REDUCE calls), and torch-style state dicts. Each is
scanned raw, inside a torch zip (archive/data.pkl) and in torch's legacy format (five
pickles in a row), then perhaps damaged byte by byte.

The oracle for "never reported clean" is CPython's own C unpickler (the one torch.load
subclasses), run with `find_class` replaced by a recorder that returns an inert stub, under
a memory cap (read from Linux's /proc): it imports nothing and calls nothing but the stub,
and it says exactly which globals a real load would have looked up. Nothing else in this
file unpickles anything.
"""

from __future__ import annotations

import contextlib
import io
import pickle  # pickle.dumps builds benign inputs; pickle.Unpickler is the recording oracle
import pickletools
import resource
import struct
import warnings
import zipfile
from collections.abc import Iterator

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from models_hub.formats.pickles import (
    DANGER,
    ERROR,
    SAFE_GLOBALS,
    SUCCESS,
    ScanResult,
    describe,
    scan_model_stream,
    scan_stream,
)
from tests.fuzz.mutations import mutated, note_input, random_bytes

FUZZ = settings.get_profile("fuzz")
# zipfile and pickletools warn about the damaged inputs this file makes on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

SAFE_NAMES = sorted(SAFE_GLOBALS)
DANGEROUS_NAMES = [
    ("os", "system"),
    ("posix", "system"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "getattr"),
    ("__builtin__", "eval"),
    ("subprocess", "Popen"),
    ("torch", "load"),
    ("numpy", "load"),
    ("collections", "OrderedDict.fromkeys"),  # a dotted path from a safe global
    ("collections", "defaultdict"),
    ("torch._utils", "_rebuild_tensor_v4"),
    ("torch._utils ", "_rebuild_tensor_v2"),  # near-misses of allowlisted names
    ("collections", "OrderedDict "),
    ("Collections", "OrderedDict"),
]
names = (
    st.sampled_from(SAFE_NAMES)
    | st.sampled_from(DANGEROUS_NAMES)
    | st.tuples(st.text(max_size=8), st.text(max_size=8))
)

# --- encoding one opcode ---------------------------------------------------------------


def _lengths(draw: st.DrawFn, true_length: int, fmt: str) -> bytes:
    """A length prefix: almost always right, sometimes off, sometimes absurd."""
    choice = draw(st.integers(0, 19))
    if choice == 0:
        length = draw(st.integers(0, 2 ** (8 * struct.calcsize(fmt)) - 1))
    elif choice == 1:
        length = max(0, true_length + draw(st.integers(-3, 3)))
    else:
        length = true_length
    if fmt == "<i":
        length = min(length, 2**31 - 1)
    return struct.pack(fmt, length)


@st.composite
def strings(draw: st.DrawFn) -> str:
    """Texts that matter to the scanner: halves of global names, and anything."""
    part = st.sampled_from([n for pair in SAFE_NAMES + DANGEROUS_NAMES for n in pair])
    return draw(part | st.text(max_size=10))


def _escaped(module: str) -> str:
    """The last character as a backslash escape: pickletools undoes escapes in GLOBAL and
    INST names, the unpickler does not."""
    return module[:-1] + f"\\x{ord(module[-1:] or 'a'):02x}"


def _line(data: bytes) -> bytes:
    return data.replace(b"\n", b"") + b"\n"


@st.composite
def arguments(draw: st.DrawFn, op: pickletools.OpcodeInfo) -> bytes:
    """The argument bytes of `op`, shaped like its ArgumentDescriptor (or broken)."""
    kind = op.arg.name
    text = draw(strings())
    raw = text.encode("utf-8", "surrogatepass")
    if kind in ("uint1", "uint2", "uint4", "uint8", "int4"):
        fmt = {"uint1": "<B", "uint2": "<H", "uint4": "<I", "uint8": "<Q", "int4": "<i"}[kind]
        size = struct.calcsize(fmt)
        if op.name in ("BINGET", "LONG_BINGET", "BINPUT", "LONG_BINPUT"):
            return struct.pack(fmt, draw(st.integers(0, 12)))
        if fmt == "<i":
            return struct.pack(fmt, draw(st.integers(-(2**31), 2**31 - 1)))
        return struct.pack(fmt, draw(st.integers(0, 2 ** (8 * size) - 1)))
    if kind == "decimalnl_short":
        if op.name in ("GET", "PUT"):
            return _line(str(draw(st.integers(0, 12))).encode())
        weird = st.sampled_from([b"00", b"01", b"0x1", b"1_0", b" 5", b"+5", b"-0", b"", b"1e3"])
        return _line(draw(weird | st.integers(-(2**70), 2**70).map(lambda n: str(n).encode())))
    if kind == "decimalnl_long":
        number = str(draw(st.integers(-(2**70), 2**70))).encode()
        return _line(number + draw(st.sampled_from([b"L", b"", b"l", b"0x1L"])))
    if kind == "floatnl":
        return _line(repr(draw(st.floats())).encode())
    if kind == "float8":
        return struct.pack(">d", draw(st.floats()))
    if kind in ("long1", "long4"):
        body = draw(st.binary(max_size=12))
        fmt = "<B" if kind == "long1" else "<i"
        return _lengths(draw, len(body), fmt) + body
    if kind == "stringnl":
        quote = draw(st.sampled_from([b"'", b'"', b""]))
        return _line(quote + raw.replace(b"\\", b"\\\\") + quote)
    if kind == "stringnl_noescape":
        return _line(raw)
    if kind == "stringnl_noescape_pair":
        module, name = draw(names)
        if draw(st.integers(0, 9)) == 0:
            module = _escaped(module)
        return _line(module.encode()) + _line(name.encode())
    if kind == "unicodestringnl":
        return _line(text.encode("raw-unicode-escape"))
    if kind in ("string1", "string4", "bytes1", "bytes4", "bytes8", "bytearray8"):
        body = raw if draw(st.booleans()) else draw(st.binary(max_size=12))
        fmt = {"string1": "<B", "bytes1": "<B", "string4": "<i", "bytes4": "<I"}.get(kind, "<Q")
        return _lengths(draw, len(body), fmt) + body
    if kind in ("unicodestring1", "unicodestring4", "unicodestring8"):
        fmt = {"unicodestring1": "<B", "unicodestring4": "<I"}.get(kind, "<Q")
        return _lengths(draw, len(raw), fmt) + raw
    raise AssertionError(f"no encoder for {kind}")


@st.composite
def opcodes(draw: st.DrawFn) -> bytes:
    """Any opcode but STOP, with its argument."""
    op = draw(st.sampled_from([o for o in pickletools.opcodes if o.name != "STOP"]))
    code = op.code.encode("latin-1")
    return code + (draw(arguments(op)) if op.arg is not None else b"")


@st.composite
def pushed_string(draw: st.DrawFn, text: str) -> bytes:
    """`text` pushed by any of the string opcodes a STACK_GLOBAL can take a name from."""
    raw = text.encode("utf-8", "surrogatepass")
    form = draw(st.sampled_from(["X", "\x8c", "\x8d", "V", "U", "T", "S"]))
    if form == "V":
        return b"V" + _line(text.encode("raw-unicode-escape"))
    if form == "S":
        return b"S'" + raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n") + b"'\n"
    fmt = {"X": "<I", "\x8c": "<B", "\x8d": "<Q", "U": "<B", "T": "<i"}[form]
    if fmt == "<B" and len(raw) > 255:
        form, fmt = "X", "<I"
    return form.encode("latin-1") + struct.pack(fmt, len(raw)) + raw


@st.composite
def global_fragments(draw: st.DrawFn) -> tuple[bytes, tuple[str, str]]:
    """A stack-neutral fragment that looks up one global (and perhaps calls it)."""
    module, name = draw(names)
    how = draw(st.sampled_from(["GLOBAL", "STACK_GLOBAL", "memo", "INST"]))
    if how in ("GLOBAL", "INST") and draw(st.integers(0, 5)) == 0:
        module = _escaped(module)
    if how == "GLOBAL":
        lookup = b"c" + _line(module.encode()) + _line(name.encode())
    elif how == "INST":
        return b"(i" + _line(module.encode()) + _line(name.encode()) + b"0", (module, name)
    elif how == "STACK_GLOBAL":
        lookup = draw(pushed_string(module)) + draw(pushed_string(name)) + b"\x93"
    else:
        # Each half parked in the memo, the stack emptied, both fetched back.
        slot = draw(st.integers(0, 255))
        lookup = (
            draw(pushed_string(module))
            + b"r"
            + struct.pack("<I", slot + 1000)
            + b"0"
            + draw(pushed_string(name))
            + b"q"
            + bytes([slot])
            + b"0j"
            + struct.pack("<I", slot + 1000)
            + b"h"
            + bytes([slot])
            + b"\x93"
        )
    if draw(st.booleans()):
        lookup += b"(" + draw(pushed_string("x")) + b"tR"  # call it with one argument
    return lookup + b"0", (module, name)


def _strip_frames(data: bytes) -> bytes:
    """A pickle without its FRAME opcodes, so fragments can be spliced in anywhere."""
    out, last = bytearray(), 0
    for op, _arg, pos in pickletools.genops(data):
        if op.name == "FRAME":
            out += data[last:pos]
            last = pos + 9
    return bytes(out + data[last:])


def _boundaries(data: bytes) -> list[int]:
    """Offsets of the opcodes after PROTO, up to STOP or as far as pickletools can read:
    where a fragment can go."""
    found = []
    with contextlib.suppress(Exception):
        for op, _arg, pos in pickletools.genops(data):
            if op.name != "PROTO":
                found.append(pos)
    return found or [len(data)]


hashable = (
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
)
benign_values = st.recursive(
    hashable,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(hashable, inner, max_size=3)
        | st.frozensets(hashable, max_size=3)
        | st.sets(hashable, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def spliced_pickles(draw: st.DrawFn) -> bytes:
    protocol = draw(st.integers(0, 5))
    data = _strip_frames(pickle.dumps(draw(benign_values), protocol=protocol))
    for _ in range(draw(st.integers(0, 3))):
        fragment, _name = draw(global_fragments())
        at = draw(st.sampled_from(_boundaries(data)))
        data = data[:at] + fragment + data[at:]
    if protocol >= 4 and draw(st.booleans()):
        body = data[2:]
        data = data[:2] + b"\x95" + struct.pack("<Q", len(body)) + body
    return data


@st.composite
def opcode_programs(draw: st.DrawFn) -> bytes:
    """Random opcodes and fragments, usually with PROTO first and STOP last."""
    parts = []
    if draw(st.booleans()):
        parts.append(b"\x80" + bytes([draw(st.integers(0, 6))]))
    for _ in range(draw(st.integers(0, 12))):
        choice = draw(st.integers(0, 5))
        if choice == 0:
            parts.append(draw(global_fragments())[0])
        elif choice == 1:
            parts.append(draw(pushed_string(draw(strings()))))
        else:
            parts.append(draw(opcodes()))
    if draw(st.integers(0, 5)):
        parts.append(b".")
    return b"".join(parts)


@st.composite
def torch_state_dicts(draw: st.DrawFn) -> bytes:
    """What torch.save writes into archive/data.pkl (protocol 2): an OrderedDict of tensors,
    each rebuilt by _rebuild_tensor_v2 from a persistent-id storage."""
    body = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01("
    for index in range(draw(st.integers(0, 3))):
        storage = draw(st.sampled_from(["FloatStorage", "HalfStorage", "BFloat16Storage"]))
        rebuild = draw(st.sampled_from(["_rebuild_tensor_v2", "_rebuild_tensor_v2", "_rebuild"]))
        key = draw(st.text(max_size=6)).encode("utf-8", "surrogatepass")
        body += b"X" + struct.pack("<I", len(key)) + key
        body += b"ctorch._utils\n" + rebuild.encode() + b"\n("
        body += b"(X\x07\x00\x00\x00storagectorch\n" + storage.encode() + b"\n"
        body += b"X" + struct.pack("<I", len(str(index))) + str(index).encode()
        body += b"X\x03\x00\x00\x00cpuK\x04tQK\x00K\x02K\x02\x86K\x02K\x01\x86\x89"
        body += b"ccollections\nOrderedDict\n)Rtq" + bytes([index + 2]) + b"R"
    body += b"u."
    if draw(st.booleans()):
        fragment, _name = draw(global_fragments())
        at = draw(st.sampled_from(_boundaries(body)))
        body = body[:at] + fragment + body[at:]
    return body


pickles = spliced_pickles() | opcode_programs() | torch_state_dicts()

# --- containers -------------------------------------------------------------------------

COMPRESSIONS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@st.composite
def torch_zips(draw: st.DrawFn, payload: st.SearchStrategy[bytes]) -> bytes:
    prefix = draw(st.sampled_from(["archive", "model", ""])) + "/"
    members = [(prefix + "data.pkl", draw(payload)), (prefix + "version", b"3\n")]
    members.append((prefix + "data/0", draw(st.binary(max_size=32) | payload)))
    for _ in range(draw(st.integers(0, 2))):
        name = draw(
            st.sampled_from(["constants.pkl", "data/1", "byteorder", ".data/x", "extra.npy"])
            | st.text(min_size=1, max_size=8)
        )
        members.append((prefix + name, draw(payload | st.binary(max_size=32) | npy_files())))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are wanted here
        for name, data in draw(st.permutations(members)):
            with contextlib.suppress(ValueError):  # names zipfile refuses (NUL, surrogates)
                archive.writestr(name, data, compress_type=draw(st.sampled_from(COMPRESSIONS)))
    return buffer.getvalue()


@st.composite
def legacy_files(draw: st.DrawFn, payload: st.SearchStrategy[bytes]) -> bytes:
    """torch's legacy format: magic, protocol version, system info, the object, storage keys,
    then raw storage bytes."""
    head = pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
    head += pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    keys = pickle.dumps(["0"], protocol=2)
    pieces = [head, draw(payload), keys]
    if draw(st.booleans()):
        pieces.insert(draw(st.integers(0, 2)), draw(payload))  # a pickle too many
    return b"".join(pieces) + draw(st.binary(max_size=16))


@st.composite
def npy_files(draw: st.DrawFn) -> bytes:
    """NumPy .npy: a plain dtype, or an object one followed by a pickle."""
    descr = draw(
        st.sampled_from(["'<f4'", "'|O'", "[('a', '<i4'), ('b', '|O')]", "[[]]", "{[]: 1}"])
    )
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}".encode()
    version = draw(st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00"]))
    fmt = "<H" if version == b"\x01\x00" else "<I"
    return b"\x93NUMPY" + version + struct.pack(fmt, len(header)) + header + draw(pickles)


# --- the oracle -------------------------------------------------------------------------


class _Stub:
    """What the recording unpickler hands out for every global: accepts anything, does
    nothing."""

    def __new__(cls, *args: object, **kwargs: object) -> _Stub:
        return object.__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> _Stub:
        return _Stub()


class _Recorder(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, seen: list[tuple[str, str]]) -> None:
        super().__init__(file, encoding="utf-8")  # torch.load's encoding
        self.seen = seen

    def find_class(self, module: str, name: str) -> type[_Stub]:
        self.seen.append((module, name))
        return _Stub

    def persistent_load(self, pid: object) -> _Stub:
        return _Stub()


@contextlib.contextmanager
def _memory_capped(extra: int = 1 << 30) -> Iterator[None]:
    """Address space capped at what is mapped now plus `extra`: the C unpickler sizes its
    memo by the largest index it is given (a 4-byte index is up to 32 GiB)."""
    with open("/proc/self/status") as status:
        (size_kib,) = (int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size_kib * 1024 + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _globals_a_loader_would_import(data: bytes, pickles_in_a_row: int) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    stream = io.BytesIO(data)
    with _memory_capped():
        for _ in range(pickles_in_a_row):
            try:
                _Recorder(stream, seen).load()
            except Exception:  # noqa: BLE001 - any failure ends a real load there too
                break
    return seen


def _loaded_by_torch(data: bytes) -> list[tuple[str, str]]:
    """The globals torch.load would look up: a zip's .pkl members (torch unpickles
    <prefix>/data.pkl; TorchScript also constants.pkl), or up to five pickles in a row."""
    if not data.startswith(b"PK\x03\x04"):
        return _globals_a_loader_would_import(data, 5)
    seen: list[tuple[str, str]] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                if member.filename.endswith(".pkl"):
                    seen += _globals_a_loader_would_import(archive.read(member), 1)
    except Exception:  # noqa: BLE001 - torch cannot read such a member either
        pass
    return seen


def _scan(data: bytes) -> ScanResult:
    note_input(data)
    result = scan_stream(io.BytesIO(data))
    assert result.status in (SUCCESS, DANGER, ERROR)
    assert describe(result)
    event(f"verdict: {result.status}")
    return result


def _assert_never_clean_with_unsafe_globals(data: bytes, result: ScanResult) -> None:
    unsafe = [g for g in _loaded_by_torch(data) if g not in SAFE_GLOBALS]
    if unsafe:
        event("a loader would import an unsafe global")
        assert result.status != SUCCESS, f"reported clean, but a loader imports {unsafe}"


# --- the properties ---------------------------------------------------------------------


@settings(FUZZ)
@given(pickles)
def test_raw_pickles_get_a_verdict_and_unsafe_globals_are_never_clean(data):
    _assert_never_clean_with_unsafe_globals(data, _scan(data))


@settings(FUZZ)
@given(torch_zips(pickles))
def test_torch_zips_get_a_verdict_and_unsafe_globals_are_never_clean(data):
    _assert_never_clean_with_unsafe_globals(data, _scan(data))


@settings(FUZZ)
@given(legacy_files(pickles))
def test_legacy_torch_files_get_a_verdict_and_unsafe_globals_are_never_clean(data):
    _assert_never_clean_with_unsafe_globals(data, _scan(data))


@settings(FUZZ)
@given(npy_files() | torch_zips(npy_files()))
def test_numpy_files_get_a_verdict(data):
    _scan(data)


@settings(FUZZ)
@given(
    mutated(pickles | torch_zips(pickles) | legacy_files(pickles), max_edits=3)
    | random_bytes(b"PK\x03\x04", b"\x93NUMPY", b"\x80\x02", b"\x80\x04\x95")
)
def test_damaged_and_random_files_get_a_verdict(data):
    _assert_never_clean_with_unsafe_globals(data, _scan(data))


@settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 5))
@given(pickles | torch_zips(pickles) | mutated(torch_zips(pickles)))
def test_scan_with_picklescan_gets_a_verdict(data):
    note_input(data)
    result = scan_model_stream(io.BytesIO(data))
    assert result.status in (SUCCESS, DANGER, ERROR)
