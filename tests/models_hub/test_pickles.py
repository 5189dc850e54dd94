"""The pickle scanner against BAD_INPUTS rows 1-11 (row 6 is format detection, tested elsewhere).

Every hostile input here is built by hand from opcode bytes (or with pickle.dumps for benign
data) and is only ever scanned: nothing in this file unpickles anything, not even benign data.
The canaries check that scanning never ran a payload.
"""

from __future__ import annotations

import collections
import io
import pickle  # only pickle.dumps, to build inputs; never load/loads
import struct
import tracemalloc
import zipfile

import pytest

from models_hub.formats import pickles
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

MiB = 1024**2
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


# --- building blocks (opcode bytes) ---


def _scan(data: bytes) -> ScanResult:
    return scan_stream(io.BytesIO(data))


def _glob(module: str, name: str) -> bytes:
    """GLOBAL opcode: `c<module>\\n<name>\\n`."""
    return b"c" + f"{module}\n{name}\n".encode()


def _bu(text: str) -> bytes:
    """BINUNICODE: `X` + uint32 length + UTF-8."""
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _sbu(text: str) -> bytes:
    """SHORT_BINUNICODE (protocol 4): `\\x8c` + uint8 length + UTF-8."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _proto4(body: bytes) -> bytes:
    """A protocol-4 pickle with one FRAME around `body` (which must end with STOP)."""
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body


def call_with_global(module: str, name: str, arg: str = "id") -> bytes:
    """Protocol 2: GLOBAL module name; (arg,); REDUCE."""
    return b"\x80\x02" + _glob(module, name) + b"q\x00" + _bu(arg) + b"\x85q\x01Rq\x02."


def call_with_stack_global(module: str, name: str, arg: str = "id") -> bytes:
    """Protocol 4: the names as strings on the stack, memoized, then STACK_GLOBAL; REDUCE."""
    body = _sbu(module) + b"\x94" + _sbu(name) + b"\x94\x93\x94" + _sbu(arg) + b"\x94\x85\x94R\x94."
    return _proto4(body)


def posix_system_proto0(cmd: str) -> bytes:
    """The classic protocol-0 payload of row 1."""
    return b"cposix\nsystem\n(V" + cmd.encode() + b"\ntR."


def _rebuild_tensor(key: str, numel: int) -> bytes:
    """torch._utils._rebuild_tensor_v2((storage persid), 0, (2, 2), (2, 1), False, OrderedDict())
    with the storage as torch writes it: a BINPERSID of ('storage', FloatStorage, key, 'cpu', n)."""
    persid = (
        b"(" + _bu("storage") + _glob("torch", "FloatStorage") + _bu(key) + _bu("cpu")
        + b"K" + bytes([numel]) + b"tQ"
    )  # fmt: skip
    args = (
        persid + b"K\x00" + b"K\x02K\x02\x86" + b"K\x02K\x01\x86" + b"\x89"
        + _glob("collections", "OrderedDict") + b")R"
    )  # fmt: skip
    return _glob("torch._utils", "_rebuild_tensor_v2") + b"(" + args + b"tR"


def state_dict_pickle(extra: bytes = b"") -> bytes:
    """A torch-style protocol-2 state dict: OrderedDict of two tensors, built by hand.
    `extra` is spliced in as one more (key, value) pair, e.g. a dangerous call."""
    items = (
        _bu("conv.weight") + _rebuild_tensor("0", 4) + _bu("conv.bias") + _rebuild_tensor("1", 4)
    )
    if extra:
        items += _bu("extra") + extra
    return (
        b"\x80\x02" + _glob("collections", "OrderedDict") + b"q\x00)Rq\x01(" + items + b"u."
    )  # fmt: skip


TORCH_GLOBALS = {
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch.FloatStorage",
}


def torch_zip(data_pkl: bytes, *, prefix: str = "archive", extra: dict | None = None,
              compression: int = zipfile.ZIP_STORED) -> bytes:  # fmt: skip
    """A torch.save-style zip: <prefix>/data.pkl, byteorder, data/0, data/1, version."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(f"{prefix}/data.pkl", data_pkl)
        archive.writestr(f"{prefix}/byteorder", b"little")
        archive.writestr(f"{prefix}/data/0", struct.pack("<4f", 0.5, -1.25, 3.0, 0.0))
        archive.writestr(f"{prefix}/data/1", struct.pack("<4f", 0.0, 0.1, 0.2, 0.3))
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
        archive.writestr(f"{prefix}/version", b"3\n")
    return buffer.getvalue()


def legacy_torch(*, fourth: bytes | None = None, second: bytes | None = None) -> bytes:
    """torch.save(..., _use_new_zipfile_serialization=False): five pickles, then raw storages."""
    magic = pickle.dumps(TORCH_LEGACY_MAGIC, protocol=2)
    protocol = second if second is not None else pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps(
        {"protocol_version": 1001, "little_endian": True,
         "type_sizes": {"short": 2, "int": 4, "long": 4}},
        protocol=2,
    )  # fmt: skip
    state = fourth if fourth is not None else state_dict_pickle()
    keys = pickle.dumps(["0", "1"], protocol=2)
    raw = b"".join(
        struct.pack("<q", 4) + struct.pack("<4f", *values)
        for values in ((0.5, -1.25, 3.0, 0.0), (0.0, 0.1, 0.2, 0.3))
    )
    return magic + protocol + sys_info + state + keys + raw


def npy(header: str, body: bytes, *, major: int = 1) -> bytes:
    """Hand-built .npy: magic, version, header length, a dict literal padded to 64 bytes."""
    size_format = "<H" if major == 1 else "<I"
    fixed = 8 + struct.calcsize(size_format)
    padded = header + " " * (-(fixed + len(header) + 1) % 64) + "\n"
    return (
        b"\x93NUMPY" + bytes([major, 0]) + struct.pack(size_format, len(padded))
        + padded.encode("latin-1") + body
    )  # fmt: skip


def npz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


FLOAT32_NPY = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                  struct.pack("<4f", 1.0, 2.0, 3.0, 4.0))  # fmt: skip


def object_npy(payload: bytes, descr: str = "'|O'") -> bytes:
    return npy(f"{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}", payload)


def _central_entries(data: bytes) -> dict[str, int]:
    """Offsets of the central-directory entries of a zip, by member name."""
    end = data.rindex(b"PK\x05\x06")
    count, _size, offset = struct.unpack("<HII", data[end + 10 : end + 20])
    entries = {}
    for _ in range(count):
        assert data[offset : offset + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[offset + 28 : offset + 34])
        entries[data[offset + 46 : offset + 46 + name_len].decode()] = offset
        offset += 46 + name_len + extra_len + comment_len
    return entries


def _member_data_offset(data: bytes, name: str) -> tuple[int, int]:
    """(offset of the local header, offset of the member's stored data)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    name_len, extra_len = struct.unpack("<HH", data[local + 26 : local + 30])
    return local, local + 30 + name_len + extra_len


def _set_encrypted_flag(data: bytes, name: str) -> bytes:
    patched = bytearray(data)
    local, _ = _member_data_offset(data, name)
    central = _central_entries(data)[name]
    patched[local + 6] |= 0x01  # general-purpose flag, local header
    patched[central + 8] |= 0x01  # general-purpose flag, central directory
    return bytes(patched)


def _assert_not_clean(result: ScanResult) -> None:
    assert result.status in (DANGER, ERROR), result


# --- row 1: posix.system in a torch zip ---


def test_row1_posix_system_in_torch_zip_is_danger_and_never_runs(tmp_path):
    canary = tmp_path / "canary"
    data = torch_zip(posix_system_proto0(f"touch {canary}"))
    result = _scan(data)
    assert result.status == DANGER
    assert "posix.system" in result.dangerous
    assert "posix.system" in describe(result)
    end_to_end = scan_model_stream(io.BytesIO(data), label="evil.pt")
    assert end_to_end.status == DANGER and "posix.system" in end_to_end.dangerous
    assert not canary.exists()


def test_row1_deflated_zip_and_bare_pickle_are_danger_too(tmp_path):
    canary = tmp_path / "canary"
    payload = posix_system_proto0(f"touch {canary}")
    for data in (torch_zip(payload, compression=zipfile.ZIP_DEFLATED), payload):
        result = _scan(data)
        assert result.status == DANGER and "posix.system" in result.dangerous
    assert not canary.exists()


# --- rows 2 and 3: anything outside the allowlist ---

INDIRECT_IMPORTS = [
    ("importlib", "import_module"),
    ("pkgutil", "resolve_name"),
    ("operator", "attrgetter"),
    ("_operator", "attrgetter"),
    ("functools", "partial"),
    ("builtins", "getattr"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("__builtin__", "eval"),
]
UNCOMMON_CALLABLES = [
    ("runpy", "_run_code"),
    ("pip", "main"),
    ("pydoc", "pipepager"),
    ("timeit", "timeit"),
    ("cProfile", "run"),
    ("venv", "create"),
    ("webbrowser", "open"),
]


@pytest.mark.parametrize("build", [call_with_global, call_with_stack_global],
                         ids=["GLOBAL", "STACK_GLOBAL"])  # fmt: skip
@pytest.mark.parametrize("module,name", INDIRECT_IMPORTS + UNCOMMON_CALLABLES)
def test_rows2_3_globals_outside_the_allowlist_are_danger(build, module, name):
    result = _scan(build(module, name))
    assert result.status == DANGER
    assert f"{module}.{name}" in result.dangerous
    assert f"{module}.{name}" in describe(result)


@pytest.mark.parametrize("module,name", INDIRECT_IMPORTS + UNCOMMON_CALLABLES)
def test_rows2_3_inside_a_torch_zip(module, name):
    result = _scan(torch_zip(state_dict_pickle(extra=_glob(module, name) + _bu("x") + b"\x85R")))
    assert result.status == DANGER and result.dangerous == {f"{module}.{name}"}
    assert result.globals >= TORCH_GLOBALS


def test_inst_and_extension_codes_are_danger():
    inst = b"(V" + b"id" + b"\niposix\nsystem\n."
    result = _scan(inst)
    assert result.status == DANGER and "posix.system" in result.dangerous
    for ext in (b"\x82\x01", b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"):
        result = _scan(b"\x80\x02" + ext + _bu("id") + b"\x85R.")
        assert result.status == DANGER and any("extension code" in d for d in result.dangerous)


def test_the_allowlist_holds_no_obvious_code_runner():
    for module, name in SAFE_GLOBALS:
        assert module.split(".")[0] not in {"os", "posix", "nt", "subprocess", "sys", "runpy",
                                            "importlib", "pickle", "operator"}  # fmt: skip
        assert name not in {"eval", "exec", "getattr", "__import__", "compile", "open", "system",
                            "load", "loads", "attrgetter", "partial", "apply"}  # fmt: skip


# --- row 4: memo and stack tricks ---


def test_row4_stack_global_names_from_memoize_and_binget():
    # "posix" MEMOIZE POP "system" MEMOIZE POP BINGET 0 BINGET 1 STACK_GLOBAL
    body = (
        _sbu("posix") + b"\x94" + b"0" + _sbu("system") + b"\x94" + b"0"
        + b"h\x00h\x01\x93" + _sbu("id") + b"\x85R."
    )  # fmt: skip
    result = _scan(_proto4(body))
    assert result.status == DANGER and "posix.system" in result.dangerous


def test_row4_stack_global_names_from_binput_and_long_binget():
    body = (
        _bu("posix") + b"q\x07" + b"0"
        + _bu("system") + b"r" + struct.pack("<I", 70_000) + b"0"
        + b"j" + struct.pack("<I", 7) + b"j" + struct.pack("<I", 70_000)
        + b"\x93" + _bu("id") + b"\x85R."
    )  # fmt: skip
    result = _scan(b"\x80\x04" + body)
    assert result.status == DANGER and "posix.system" in result.dangerous


def test_row4_memo_slot_overwritten_after_a_harmless_name():
    # PUT 0 = "collections", then PUT 0 = "posix": the later value is what GET returns.
    body = (
        _sbu("collections") + b"q\x00" + b"0" + _sbu("posix") + b"q\x00" + b"0"
        + _sbu("system") + b"q\x01" + b"0" + b"h\x00h\x01\x93" + _sbu("id") + b"\x85R."
    )  # fmt: skip
    result = _scan(_proto4(body))
    assert result.status == DANGER and "posix.system" in result.dangerous
    assert "collections.system" not in result.globals


def test_row4_stack_global_from_a_memo_slot_never_written():
    result = _scan(_proto4(b"h\x09h\x0a\x93" + _sbu("id") + b"\x85R."))
    _assert_not_clean(result)


@pytest.mark.parametrize(
    "operands",
    [
        b"K\x01K\x02",  # two ints
        b"C\x05posixC\x06system",  # bytes, not str
        (_glob("collections", "OrderedDict") + b")R") * 2,  # results of calls
        _sbu("posix") + _glob("collections", "OrderedDict") + b")R",  # a str and a call result
        b"(" + _sbu("posix") + _sbu("system") + b"t" + b"\x94" + b"0" + b"h\x00h\x00",  # a tuple
    ],
    ids=["ints", "bytes", "call-results", "str-and-call", "memoized-tuple"],
)
def test_row4_stack_global_with_operands_that_are_not_strings(operands):
    result = _scan(_proto4(operands + b"\x93" + _sbu("id") + b"\x85R."))
    _assert_not_clean(result)


def test_row4_dangerous_names_under_a_mark_that_pop_mark_uncovers():
    # "posix" "system" MARK "collections" "OrderedDict" POP_MARK STACK_GLOBAL -> posix.system
    body = (
        _sbu("posix") + _sbu("system") + b"(" + _sbu("collections") + _sbu("OrderedDict")
        + b"1\x93" + _sbu("id") + b"\x85R."
    )  # fmt: skip
    result = _scan(_proto4(body))
    assert result.status == DANGER and "posix.system" in result.dangerous
    assert "collections.OrderedDict" not in result.globals  # it was never imported


def test_row4_dangerous_names_under_two_harmless_ones_popped():
    body = (
        _sbu("posix") + _sbu("system") + _sbu("collections") + _sbu("OrderedDict")
        + b"00\x93" + _sbu("id") + b"\x85R."
    )  # fmt: skip
    result = _scan(_proto4(body))
    assert result.status == DANGER and result.dangerous == {"posix.system"}


def test_row4_dangerous_names_under_a_tuple_of_harmless_ones():
    # "posix" "system" MARK "collections" "OrderedDict" TUPLE POP STACK_GLOBAL -> posix.system
    body = (
        _sbu("posix") + _sbu("system") + b"(" + _sbu("collections") + _sbu("OrderedDict")
        + b"t0\x93" + _sbu("id") + b"\x85R."
    )  # fmt: skip
    result = _scan(_proto4(body))
    assert result.status == DANGER and "posix.system" in result.dangerous


def test_row4_pop_can_remove_a_mark():
    # "posix" "system" MARK POP STACK_GLOBAL: POP on an empty frame drops the mark.
    body = _sbu("posix") + _sbu("system") + b"(0\x93" + _sbu("id") + b"\x85R."
    result = _scan(_proto4(body))
    assert result.status == DANGER and "posix.system" in result.dangerous


def test_row4_vice_versa_dangerous_names_discarded_leave_only_the_harmless_import():
    # "collections" "OrderedDict" MARK "posix" "system" POP_MARK STACK_GLOBAL: the unpickler
    # imports collections.OrderedDict and nothing else; the scanner must follow exactly that.
    body = (
        _sbu("collections") + _sbu("OrderedDict") + b"(" + _sbu("posix") + _sbu("system")
        + b"1\x93)R."
    )  # fmt: skip
    result = _scan(_proto4(body))
    assert result.status == SUCCESS
    assert result.globals == {"collections.OrderedDict"}


def obj_desync_exploit(cmd: str) -> bytes:
    """OBJ (`o`) pops the mark *and* the class above it (stack: ... MARK cls args).

    Real unpickler (pickle.py load_obj / _pickle.c load_obj): with the stack
        "collections" "OrderedDict" MARK_A "posix" "system" MARK_B MARK_C OrderedDict
    OBJ pops to MARK_C and instantiates OrderedDict(), leaving MARK_B OrderedDict() on top;
    POP_MARK then drops MARK_B's frame, so STACK_GLOBAL takes "posix" "system" and REDUCE
    calls posix.system(cmd).
    """
    body = (
        _sbu("collections") + _sbu("OrderedDict")  # decoys
        + b"(" + _sbu("posix") + _sbu("system")  # MARK_A, the real operands
        + b"((" + _glob("collections", "OrderedDict") + b"o"  # MARK_B MARK_C cls OBJ
        + b"1"  # POP_MARK
        + b"\x93" + _sbu(cmd) + b"\x85R."  # STACK_GLOBAL, call
    )  # fmt: skip
    return _proto4(body)


def test_row4_obj_opcode_desync_hides_a_dangerous_stack_global(tmp_path):
    """Was: the generic stack-effect branch mis-simulates OBJ and a posix.system import passes."""
    canary = tmp_path / "canary"
    result = _scan(obj_desync_exploit(f"touch {canary}"))
    assert result.status != SUCCESS, result
    assert "posix.system" in result.dangerous
    assert not canary.exists()


def test_row4_obj_desync_is_still_caught_end_to_end_by_picklescan(tmp_path):
    canary = tmp_path / "canary"
    result = scan_model_stream(io.BytesIO(torch_zip(obj_desync_exploit(f"touch {canary}"))))
    assert result.status == DANGER
    assert not canary.exists()


def test_obj_opcode_in_an_ordinary_pickle_is_not_an_error():
    # MARK cls OBJ as the first thing in a pickle: a valid, harmless OrderedDict().
    result = _scan(b"(" + _glob("collections", "OrderedDict") + b"o.")
    assert result.status == SUCCESS, result
    assert result.globals == {"collections.OrderedDict"}


# --- row 5: pickles hidden under harmless member names ---


@pytest.mark.parametrize("member", ["archive/weights.txt", "archive/data/5", "archive/.data/x"])
@pytest.mark.parametrize(
    "payload",
    [
        call_with_global("posix", "system"),  # protocol 2
        call_with_stack_global("posix", "system"),  # protocol 4
        posix_system_proto0("id"),  # protocol 0, starts with GLOBAL
        b"\x80\x01" + posix_system_proto0("id"),  # PROTO 1 header (valid: pickle accepts 0-5)
        b"K\x010" + posix_system_proto0("id"),  # protocol 1: BININT1, POP, then the payload
        b")0" + posix_system_proto0("id"),  # protocol 1: EMPTY_TUPLE, POP, then the payload
    ],
    ids=["proto2", "proto4", "proto0", "PROTO-1-header", "BININT1-first", "EMPTY_TUPLE-first"],
)
def test_row5_pickle_hidden_in_a_member_with_a_harmless_name(member, payload):
    result = _scan(torch_zip(state_dict_pickle(), extra={member: payload}))
    assert result.status == DANGER, result
    assert "posix.system" in result.dangerous


def test_row5_benign_raw_storages_that_start_like_opcodes_are_not_errors():
    # Tensor bytes that happen to start with "(" or "c" must not make a clean file an error.
    extra = {"archive/data/2": b"(\x00\x01\x02\x03" * 10, "archive/data/3": b"c\xff\xfe" * 10}
    result = _scan(torch_zip(state_dict_pickle(), extra=extra))
    assert result.status == SUCCESS, result


def test_long_archive_prefix_hides_an_unparseable_data_pkl(tmp_path):
    """Was: member labels are cut to 200 characters before the `.pkl` check that decides whether a
    protocol-0-looking member that fails to parse is an error or skipped data."""
    canary = tmp_path / "canary"
    # `I0x1\n` is INT 1 for the real unpickler (int(..., 0)) but a ValueError for genops.
    data_pkl = b"I0x1\n0" + posix_system_proto0(f"touch {canary}")
    data = torch_zip(data_pkl, prefix="a" * 250)
    result = _scan(data)
    assert result.status != SUCCESS, result
    assert scan_model_stream(io.BytesIO(data)).status != SUCCESS
    assert not canary.exists()


def test_short_prefix_unparseable_data_pkl_is_an_error():
    result = _scan(torch_zip(b"I0x1\n0" + posix_system_proto0("id")))
    assert result.status == ERROR and "data.pkl" in result.message


# --- row 7: empty and truncated ---


def _benign_state() -> collections.OrderedDict:
    return collections.OrderedDict(
        weight=[0.5, -1.25, 3.0], shape=(2, 2), meta={"name": "unet", "steps": 1000},
        blob=b"\x00\x01", nested=[(1, 2.5), {"k": [b"x", "y"]}],
    )  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        b"",
        pickle.dumps(_benign_state(), protocol=2)[:40],
        pickle.dumps(_benign_state(), protocol=4)[:60],
        pickle.dumps(_benign_state(), protocol=0)[:50],
        state_dict_pickle()[: len(state_dict_pickle()) // 2],
        torch_zip(state_dict_pickle())[: len(torch_zip(state_dict_pickle())) // 2],
        torch_zip(state_dict_pickle())[:-10],  # the end of central directory cut off
    ],
    ids=[
        "empty",
        "proto2-half",
        "proto4-half",
        "proto0-half",
        "state-dict-half",
        "half-zip",
        "zip-without-eocd",
    ],  # fmt: skip
)
def test_row7_empty_or_truncated_is_error(data):
    result = _scan(data)
    assert result.status == ERROR, result
    assert describe(result).startswith("Could not be checked")


def test_row7_torch_zip_with_truncated_data_pkl_is_error():
    full = state_dict_pickle()
    result = _scan(torch_zip(full[: len(full) // 2]))
    assert result.status == ERROR and "data.pkl" in result.message


def test_row7_legacy_file_cut_inside_its_state_dict_is_error():
    """Was: pickles 2-5 of the legacy format that fail to parse are taken for raw storage data."""
    full = legacy_torch()
    state_start = full.index(state_dict_pickle())
    cut = full[: state_start + len(state_dict_pickle()) // 2]
    result = _scan(cut)
    assert result.status == ERROR, result


# --- row 8: corrupt and encrypted zips ---


def test_row8_bad_crc_in_data_pkl_is_error():
    data = bytearray(torch_zip(state_dict_pickle()))
    _local, start = _member_data_offset(bytes(data), "archive/data.pkl")
    where = data.index(b"conv.weight", start)
    data[where] ^= 0x01  # still a well-formed pickle; only the CRC says it changed
    result = _scan(bytes(data))
    assert result.status == ERROR, result
    assert "CRC" in result.message


# Tensor storage members (archive/data/N) are deliberately not read to their end: reading
# every byte of a multi-GB checkpoint would cost the scan its speed, a corrupt storage byte
# cannot run code, and the file's SHA256 (checked at upload) already covers its integrity.
@pytest.mark.parametrize("member", ["archive/data.pkl"])
def test_row8_bad_crc_beyond_what_the_scanner_reads_is_error(member):
    """A pickle member is read to its end after STOP, so zipfile checks its CRC."""
    big_storage = struct.pack("<f", 0.25) * 4096  # 16 KiB of tensor data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", state_dict_pickle() + b"\x00" * 16384)
        archive.writestr("archive/data/0", big_storage)
        archive.writestr("archive/data/1", big_storage)
        archive.writestr("archive/version", b"3\n")
    data = bytearray(buffer.getvalue())
    _local, start = _member_data_offset(bytes(data), member)
    data[start + 12000] ^= 0xFF
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        assert archive.testzip() == member  # the file really is corrupt
    result = _scan(bytes(data))
    assert result.status == ERROR, result


def test_row8_encryption_flag_is_error():
    data = _set_encrypted_flag(torch_zip(state_dict_pickle()), "archive/data.pkl")
    result = _scan(data)
    assert result.status == ERROR and "encrypted" in result.message


def test_row8_encrypted_member_does_not_hide_a_dangerous_data_pkl():
    """Was: an encrypted member returns ERROR at once, before (or instead of) a Danger found
    in another member; merge() says Danger beats Error."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/.aaa", b"junk")
        archive.writestr("archive/data.pkl", posix_system_proto0("id"))
        archive.writestr("archive/version", b"3\n")
    data = _set_encrypted_flag(buffer.getvalue(), "archive/.aaa")
    result = _scan(data)
    assert result.status == DANGER, result
    assert "posix.system" in result.dangerous


def _mangle_central_signature(data: bytes) -> bytes:
    offset = _central_entries(data)["archive/data.pkl"]
    return data[:offset] + b"PK\x01\x00" + data[offset + 4 :]


def _mangle_central_offset(data: bytes) -> bytes:
    end = data.rindex(b"PK\x05\x06")
    (offset,) = struct.unpack("<I", data[end + 16 : end + 20])
    return data[: end + 16] + struct.pack("<I", offset + 7) + data[end + 20 :]


def _mangle_central_name(data: bytes) -> bytes:
    offset = _central_entries(data)["archive/data.pkl"]
    name_at = offset + 46
    return data[:name_at] + b"archive/dbta.pkl" + data[name_at + len("archive/data.pkl") :]


def _mangle_local_header_offset(data: bytes) -> bytes:
    offset = _central_entries(data)["archive/data.pkl"]
    return data[: offset + 42] + struct.pack("<I", 3) + data[offset + 46 :]


@pytest.mark.parametrize(
    "mangle",
    [_mangle_central_signature, _mangle_central_offset, _mangle_central_name,
     _mangle_local_header_offset],
    ids=["signature", "directory-offset", "name-mismatch", "local-header-offset"],
)  # fmt: skip
@pytest.mark.parametrize("payload", ["benign", "evil"])
def test_row8_mangled_central_directory_is_never_clean(mangle, payload):
    pkl = state_dict_pickle() if payload == "benign" else posix_system_proto0("id")
    result = _scan(mangle(torch_zip(pkl)))
    _assert_not_clean(result)
    if payload == "benign":
        assert result.status == ERROR


# --- row 9: torch's legacy format ---


def test_row9_benign_legacy_file_is_success():
    result = _scan(legacy_torch())
    assert result.status == SUCCESS, result
    assert result.scanned_pickles == 5
    assert result.globals >= TORCH_GLOBALS
    end_to_end = scan_model_stream(io.BytesIO(legacy_torch()), label="old.pt")
    assert end_to_end.status == SUCCESS, end_to_end


def test_row9_dangerous_global_in_the_fourth_pickle_is_danger():
    evil = state_dict_pickle(extra=_glob("posix", "system") + _bu("id") + b"\x85R")
    result = _scan(legacy_torch(fourth=evil))
    assert result.status == DANGER and result.dangerous == {"posix.system"}
    assert scan_model_stream(io.BytesIO(legacy_torch(fourth=evil))).status == DANGER


def test_row9_dangerous_stack_global_in_the_fourth_pickle_is_danger():
    result = _scan(legacy_torch(fourth=call_with_stack_global("runpy", "_run_code")))
    assert result.status == DANGER and "runpy._run_code" in result.dangerous


@pytest.mark.parametrize(
    "second",
    [
        posix_system_proto0("id"),  # a protocol-0 pickle: no PROTO opcode to start it
        b"\x80\x02I0x1\n0" + _glob("posix", "system") + _bu("id") + b"\x85R.",  # genops fails
    ],
    ids=["protocol-0", "unparseable-then-payload"],
)
def test_row9_payload_in_a_later_legacy_pickle_is_not_clean(second):
    """Was: pickles 2-5 are only scanned when they start with 0x80, and one that fails to parse
    ends the scan as if the raw storage data had begun; torch's _legacy_load unpickles all five
    with pickle.load, which needs neither."""
    result = _scan(legacy_torch(second=second))
    assert result.status != SUCCESS, result


# --- row 10: NumPy ---


def test_row10_object_npy_with_a_dangerous_global_is_danger():
    result = _scan(object_npy(call_with_global("posix", "system")))
    assert result.status == DANGER and "posix.system" in result.dangerous


def test_row10_version_2_object_npy_is_danger():
    data = npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
               call_with_stack_global("builtins", "exec"), major=2)  # fmt: skip
    result = _scan(data)
    assert result.status == DANGER and "builtins.exec" in result.dangerous


def test_row10_plain_float32_npy_is_success():
    result = _scan(FLOAT32_NPY)
    assert result.status == SUCCESS, result
    assert result.globals == set()


def test_row10_npz_with_an_object_array_is_danger():
    data = npz({"weights.npy": FLOAT32_NPY, "labels.npy": object_npy(posix_system_proto0("id"))})
    result = _scan(data)
    assert result.status == DANGER and "posix.system" in result.dangerous
    assert scan_model_stream(io.BytesIO(data), label="x.npz").status == DANGER


def test_row10_npz_of_plain_arrays_is_success():
    result = _scan(npz({"a.npy": FLOAT32_NPY, "b.npy": FLOAT32_NPY}))
    assert result.status == SUCCESS, result


def test_row10_npz_of_plain_arrays_is_success_end_to_end():
    """Was (dependency): picklescan imports numpy for every .npy it meets; numpy is not
    installed, so picklescan_opinion is ERROR and every .npz is 'Could not be checked'."""
    data = npz({"a.npy": FLOAT32_NPY, "b.npy": FLOAT32_NPY})
    result = scan_model_stream(io.BytesIO(data), label="x.npz")
    assert result.status == SUCCESS, result


@pytest.mark.parametrize(
    "descr",
    ["'object'", "'\\x4f'", "[('a', 'object')]"],
    ids=["object", "escaped-O", "structured-object-field"],
)
def test_row10_object_dtype_spelled_differently_is_not_clean(descr):
    """Was: _scan_numpy looks for the substrings 'O', "O" and |O; numpy.dtype also accepts
    'object', escapes inside the literal, and object fields inside structured dtypes."""
    result = _scan(object_npy(posix_system_proto0("id"), descr=descr))
    assert result.status != SUCCESS, result


def test_row10_object_dtype_past_the_first_mebibyte_of_header_is_not_clean():
    """Was: only the first 1 MiB of the header is read; np.load(allow_pickle=True) accepts any
    header size, and a dict literal may hold a megabyte of spaces before 'descr'."""
    header = "{" + " " * (1 << 20) + "'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    result = _scan(npy(header, posix_system_proto0("id"), major=2))
    assert result.status != SUCCESS, result


# --- row 11: zip bombs and lying sizes ---

BOMB_BYTES = 256 * MiB


def _write_bomb(head: bytes, chunk: bytes, total: int, tail: bytes = b".") -> io.BytesIO:
    """A torch zip whose data.pkl is `head` + `total` bytes of `chunk` repeats, deflated and
    written in chunks so the test never holds more than one chunk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("archive/version", b"3\n")
        with archive.open("archive/data.pkl", "w", force_zip64=True) as member:
            member.write(head)
            written = 0
            while written < total:
                member.write(chunk)
                written += len(chunk)
            member.write(tail)
    assert buffer.tell() < 2 * MiB  # highly compressible: a small file, a huge member
    return buffer


def _scan_bounded(stream: io.BytesIO) -> tuple[ScanResult, int]:
    tracemalloc.start()
    try:
        result = scan_stream(stream)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture
def one_mib_cap(monkeypatch):
    monkeypatch.setattr(pickles, "PICKLE_BYTES_CAP", MiB)


def test_row11_zip_bomb_of_many_small_opcodes_hits_the_cap(one_mib_cap):
    unit = b"C\xff" + b"A" * 255 + b"0"  # SHORT_BINBYTES of 255 bytes, POP
    bomb = _write_bomb(b"\x80\x04", unit * (MiB // len(unit)), BOMB_BYTES)
    result, peak = _scan_bounded(bomb)
    assert result.status == ERROR, result
    assert "1,048,576" in result.message and "larger than" in result.message
    assert peak < 64 * MiB


def test_row11_lying_length_in_a_zip_bomb_is_capped_while_streaming(one_mib_cap):
    """Was: _Capped.read() reads the whole requested size, then checks the cap; a BINBYTES8 that
    declares 256 MiB pulls all of it (twice over) into memory before the error."""
    head = b"\x80\x04\x8e" + struct.pack("<Q", BOMB_BYTES)
    result, peak = _scan_bounded(_write_bomb(head, bytes(MiB), BOMB_BYTES))
    assert result.status == ERROR and "1,048,576" in result.message
    assert peak < 64 * MiB, f"peak {peak / MiB:.0f} MiB"


def test_row11_endless_line_in_a_zip_bomb_is_capped_while_streaming(one_mib_cap):
    """Was: _Capped.readline() has no limit; a protocol-0 string with no newline is read whole."""
    result, peak = _scan_bounded(_write_bomb(b"S'", b"A" * MiB, 96 * MiB, tail=b"'\n."))
    assert result.status == ERROR and "1,048,576" in result.message
    assert peak < 64 * MiB, f"peak {peak / MiB:.0f} MiB"


def test_row11_absurd_declared_length_is_an_error_not_an_exception():
    """Was: BufferedReader.read(n) allocates n bytes up front; 2**62 raises MemoryError out of
    scan_stream (a file from storage, or a BytesIO, is read through a BufferedReader)."""
    data = b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"tiny."
    result = _scan(data)
    assert result.status == ERROR, result


def test_row11_danger_found_before_the_cap_stays_danger(monkeypatch):
    """Was: hitting the cap returns ERROR even after a dangerous import was recorded."""
    monkeypatch.setattr(pickles, "PICKLE_BYTES_CAP", 4096)
    data = b"\x80\x02" + _glob("posix", "system") + b"0" + (b"C\xff" + b"A" * 255 + b"0") * 64
    result = _scan(data + b"N.")
    assert result.status == DANGER, result
    assert "posix.system" in result.dangerous


# --- benign files ---


@pytest.mark.parametrize("protocol", range(6))
def test_benign_pickles_at_every_protocol_are_success(protocol):
    result = _scan(pickle.dumps(_benign_state(), protocol=protocol))
    assert result.status == SUCCESS, result
    assert result.dangerous == set()
    assert result.globals <= {"collections.OrderedDict", "_codecs.encode"}
    assert "1 pickle(s) checked" in describe(result)


@pytest.mark.parametrize(
    "value",
    [b"", bytearray(b"ab"), complex(1, 2), slice(1, 2), {1, 2}, frozenset({3})],
    ids=["empty-bytes", "bytearray", "complex", "slice", "set", "frozenset"],
)
def test_harmless_builtins_at_protocol_2_are_success(value):
    """Was (false positive): protocols 0-2 name builtins `__builtin__`; the allowlist has
    __builtin__.set/frozenset but not bytearray, complex, slice or bytes (b'' is pickled as
    __builtin__.bytes()), so torch.save's protocol 2 makes these Danger."""
    result = _scan(pickle.dumps(collections.OrderedDict(value=value), protocol=2))
    assert result.status == SUCCESS, result


def test_benign_torch_zip_state_dict_is_success():
    data = torch_zip(state_dict_pickle())
    result = _scan(data)
    assert result.status == SUCCESS, result
    assert result.globals == TORCH_GLOBALS
    assert result.dangerous == set()
    end_to_end = scan_model_stream(io.BytesIO(data), label="ok.pt")
    assert end_to_end.status == SUCCESS, end_to_end
    assert "only tensor-rebuilding globals" in describe(end_to_end)


# --- scan_model_stream: two opinions ---


def _picklescan_says(status: str):
    """A stand-in for the second opinion, so each side of the merge can be tested alone."""

    def opinion(stream, *, label: str = "file") -> ScanResult:
        if status == DANGER:
            return ScanResult(DANGER, dangerous={"evil.thing"}, message="picklescan found it")
        return ScanResult(ERROR, message="picklescan broke")

    return opinion


def test_picklescan_suspicious_counts_as_not_clean():
    # picklescan has no rule for importlib.import_module (it calls it Suspicious, not Dangerous);
    # anything off its safe list is not clean for us.
    data = torch_zip(call_with_global("importlib", "import_module", "os"))
    assert pickles.picklescan_opinion(io.BytesIO(data)).status == DANGER
    result = scan_model_stream(io.BytesIO(data))
    assert result.status == DANGER and "importlib.import_module" in result.dangerous
    assert "importlib.import_module" in describe(result)


def test_picklescan_danger_wins_over_our_success(monkeypatch):
    monkeypatch.setattr(pickles, "picklescan_opinion", _picklescan_says(DANGER))
    result = scan_model_stream(io.BytesIO(torch_zip(state_dict_pickle())))
    assert result.status == DANGER
    assert "evil.thing" in describe(result)


def test_danger_from_either_side_beats_an_error_from_the_other(monkeypatch):
    monkeypatch.setattr(pickles, "picklescan_opinion", _picklescan_says(ERROR))
    result = scan_model_stream(io.BytesIO(torch_zip(posix_system_proto0("id"))))
    assert result.status == DANGER and "posix.system" in describe(result)
    monkeypatch.setattr(pickles, "picklescan_opinion", _picklescan_says(DANGER))
    result = scan_model_stream(io.BytesIO(b""))
    assert result.status == DANGER and "evil.thing" in describe(result)


def test_an_error_from_either_side_is_an_error(monkeypatch):
    result = scan_model_stream(io.BytesIO(b"\x80\x02"), label="cut.pt")
    assert result.status == ERROR
    assert describe(result).startswith("Could not be checked")
    monkeypatch.setattr(pickles, "picklescan_opinion", _picklescan_says(ERROR))
    result = scan_model_stream(io.BytesIO(torch_zip(state_dict_pickle())))
    assert result.status == ERROR
    assert describe(result) == "Could not be checked: picklescan broke"
