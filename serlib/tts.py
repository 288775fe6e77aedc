"""Offline text-to-speech through eSpeak NG (the ``espeakng-loader`` wheel, called via ctypes).

The wheel ships ``libespeak-ng`` 1.52 and its voice data but no command line tool,
so this module talks to the C API directly:

- ``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)`` returns the native rate (22,050 Hz);
- ``espeak_SetSynthCallback(cb)`` receives 16-bit samples (a Python reference to ``cb`` is kept);
- ``espeak_SetVoiceByName(b"en-us+m1")`` picks a language voice plus a variant;
- ``espeak_SetParameter(id, value, 0)``: 1 = rate (words/min), 2 = volume (0-200),
  3 = pitch (0-100), 4 = range (0-100);
- ``espeak_Synth(...)`` then ``espeak_Synchronize()``.

**Determinism.** eSpeak NG keeps hidden global state between calls (the pitch-flutter
phase, the automatic gain control, an echo buffer, its PRNG), so in one long-lived
synthesiser the same request gives slightly different audio depending on what was
spoken before. This module therefore runs a small *fork server* per process: a helper
interpreter (stdlib only, single-threaded) initialises eSpeak NG once and forks a child
from that pristine state for every request; the child synthesises and exits. The PRNG
that draws breath and flutter noise is seeded from the clock at initialisation, so
each child also seeds it (``espeak_ng_SetRandSeed`` and libc's ``srand``) before it
speaks: without that, voices with breath noise (e.g. ``en-gb-x-rp+f2``) differed from
process to process and from machine to machine. Each call is thus bit-identical
whatever was synthesised before, in any process and run, at about a millisecond per call. The
library is global state, so parallelism comes from processes (each gets its own server).

Output is resampled 22,050 -> 16,000 Hz with :func:`serlib.audio.resample` (polyphase, 320/441).

Example::

    from serlib import tts
    wav = tts.synthesize("Hello there.", "en-us+f2", rate=170, pitch=50, range=50, volume=100)
"""

from __future__ import annotations

import atexit
import json
import os
import struct
import subprocess
import sys
import threading

import numpy as np

from serlib.audio import SR, resample

__all__ = [
    "LANGUAGES",
    "VARIANTS_MALE",
    "VARIANTS_FEMALE",
    "NAMED_VARIANTS_MALE",
    "NAMED_VARIANTS_FEMALE",
    "VOICES",
    "NATIVE_SR",
    "TTSError",
    "synthesize",
    "native_rate",
]

LANGUAGES: list[str] = ["en-us", "en-gb-x-rp", "en", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-gbclan",
                        "en-gb-x-gbcwmd"]
"""English language voices (accents) of eSpeak NG 1.52 usable as speaker identities."""

VARIANTS_MALE: list[str] = [f"m{i}" for i in range(1, 8)]
"""Male voice variants (``+m1`` ... ``+m7``)."""

VARIANTS_FEMALE: list[str] = [f"f{i}" for i in range(1, 6)]
"""Female voice variants (``+f1`` ... ``+f5``)."""

NAMED_VARIANTS_MALE: list[str] = ["john", "robert", "Mike", "Andy", "ian", "Lee", "quincy", "michel", "travis", "paul"]
"""Named human-sounding male variants shipped with eSpeak NG (robotic/klatt variants left out)."""

NAMED_VARIANTS_FEMALE: list[str] = ["belinda", "linda", "steph", "aunty", "Annie", "Andrea", "grandma", "Alicia"]
"""Named human-sounding female variants shipped with eSpeak NG."""

VOICES: list[str] = [f"{lang}+{var}" for lang in LANGUAGES
                     for var in VARIANTS_MALE + VARIANTS_FEMALE + NAMED_VARIANTS_MALE + NAMED_VARIANTS_FEMALE]
"""Every ``language+variant`` voice name known to work with :func:`synthesize` (240 voices).

:mod:`serlib.corpora.synthetic` uses a few of them as corpus speakers (``CORPUS_VOICES``);
pick babble talkers from the rest."""

NATIVE_SR = 22_050
"""eSpeak NG 1.52's output rate (Hz)."""

_MAX_SECONDS = 120  # guard against runaway synthesis (a huge text by mistake)

# The fork server. It runs in a separate interpreter with only the standard library
# loaded (no threads), so forking it is safe. Protocol on stdin/stdout, little-endian:
#   startup  -> "<i" native sample rate (or a negative error code)
#   request  <- "<I" length + JSON {text, voice, rate, pitch, range, volume, ssml}
#   response -> "<iI" status, payload length + payload (status 0: int16 PCM; else a UTF-8 message)
_SERVER_SOURCE = r'''
import ctypes, json, os, signal, struct, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C / a kernel shutdown is for the parent; stdin EOF stops us
lib_path, data_path, max_samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
RAND_SEED = 1
inp, out = sys.stdin.buffer, sys.stdout.buffer
lib = ctypes.CDLL(lib_path)
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
lib.espeak_SetSynthCallback.argtypes = [CB]
lib.espeak_SetSynthCallback.restype = None
lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
lib.espeak_ng_SetRandSeed.restype = None
lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                             ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
chunks = []
count = [0]
def _cb(wav, n, events):
    if n > 0 and wav:
        chunks.append(ctypes.string_at(wav, 2 * n))
        count[0] += n
        if count[0] > max_samples:
            return 1
    return 0
cb = CB(_cb)
sr = lib.espeak_Initialize(2, 0, data_path.encode(), 0)
lib.espeak_SetSynthCallback(cb)
out.write(struct.pack("<i", sr)); out.flush()
if sr <= 0:
    sys.exit(1)
def reply(fd, status, payload):
    data = struct.pack("<iI", status, len(payload)) + payload
    while data:
        data = data[os.write(fd, data):]
libc = ctypes.CDLL(None)
def child(req, fd):
    # eSpeak NG draws breath and flutter noise from a PRNG seeded with the time at initialisation
    # (and from libc's rand()): seed both, so a request gives the same audio in every process and run
    lib.espeak_ng_SetRandSeed(RAND_SEED)
    libc.srand(RAND_SEED)
    if lib.espeak_SetVoiceByName(req["voice"].encode()) != 0:
        return reply(fd, 2, ("unknown voice %r" % req["voice"]).encode())
    for pid, key in ((1, "rate"), (2, "volume"), (3, "pitch"), (4, "range")):
        lib.espeak_SetParameter(pid, int(req[key]), 0)
    data = req["text"].encode("utf-8") + b"\0"
    buf = ctypes.create_string_buffer(data, len(data))
    err = lib.espeak_Synth(buf, len(data), 0, 1, 0, 1 | (0x10 if req["ssml"] else 0), None, None)
    lib.espeak_Synchronize()
    if err != 0:
        return reply(fd, 3, ("espeak_Synth error %d" % err).encode())
    if count[0] > max_samples:
        return reply(fd, 4, b"synthesis exceeded the length limit; split the text")
    reply(fd, 0, b"".join(chunks))
while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    req = json.loads(inp.read(struct.unpack("<I", head)[0]))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            child(req, w)
        finally:
            os._exit(0)
    os.close(w)
    parts = []
    while True:
        b = os.read(r, 1 << 20)
        if not b:
            break
        parts.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    resp = b"".join(parts)
    if len(resp) < 8:
        msg = ("synthesis process died (wait status %d)" % status).encode()
        resp = struct.pack("<iI", 5, len(msg)) + msg
    out.write(resp); out.flush()
'''


class TTSError(RuntimeError):
    """eSpeak NG could not be started or refused a request; the message says what to change."""


def _read_exact(stream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise TTSError("the eSpeak NG server stopped unexpectedly (see stderr above); "
                           "check that espeakng-loader is installed and working")
        buf += chunk
    return bytes(buf)


class _Server:
    """The per-process eSpeak NG fork server (started lazily, stopped at exit)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise TTSError("serlib.tts needs the 'espeakng-loader' wheel (eSpeak NG library + voice data): "
                           "pip install espeakng-loader") from exc
        lib_path, data_path = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        self.pid = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _SERVER_SOURCE, lib_path, data_path, str(_MAX_SECONDS * NATIVE_SR)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        sr = struct.unpack("<i", _read_exact(self.proc.stdout, 4))[0]
        if sr <= 0:
            raise TTSError(f"espeak_Initialize failed (returned {sr}) with data at {data_path}; "
                           "reinstall espeakng-loader")
        self.sr = int(sr)
        self.lock = threading.Lock()

    def request(self, req: dict) -> np.ndarray:
        payload = json.dumps(req).encode()
        with self.lock:
            try:
                self.proc.stdin.write(struct.pack("<I", len(payload)) + payload)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise TTSError("the eSpeak NG server is gone; restart the Python process") from exc
            status, n = struct.unpack("<iI", _read_exact(self.proc.stdout, 8))
            body = _read_exact(self.proc.stdout, n)
        if status == 2:
            raise TTSError(f"eSpeak NG does not know the voice {req['voice']!r}; pick one of serlib.tts.VOICES "
                           "(language+variant, e.g. 'en-us+m1')")
        if status != 0:
            raise TTSError(f"eSpeak NG failed for text {req['text'][:60]!r}: {body.decode(errors='replace')}")
        return np.frombuffer(body, dtype="<i2")

    def close(self) -> None:
        if self.pid != os.getpid():
            return  # inherited through fork: the parent owns that server
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:  # pragma: no cover - best effort at interpreter exit
            self.proc.kill()


_SERVER: _Server | None = None
_SERVER_LOCK = threading.Lock()


def _server() -> _Server:
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or _SERVER.pid != os.getpid() or _SERVER.proc.poll() is not None:
            _SERVER = _Server()  # first use, or a forked child (never share the parent's pipes)
            atexit.register(_SERVER.close)
        return _SERVER


def native_rate() -> int:
    """The sample rate eSpeak NG reports at initialisation (22,050 Hz for 1.52)."""
    return _server().sr


def _check_range(name: str, value: int, lo: int, hi: int) -> int:
    if not (lo <= int(value) <= hi):
        raise ValueError(f"tts.synthesize: {name}={value} is outside {lo}..{hi}")
    return int(value)


def synthesize(text: str, voice: str, *, rate: int = 175, pitch: int = 50, range: int = 50,  # noqa: A002
               volume: int = 100, sr: int = SR, ssml: bool = False) -> np.ndarray:
    """Speak ``text`` with eSpeak NG and return mono float32 audio at ``sr`` Hz (full scale = 1.0).

    Args:
        text: the sentence (UTF-8; SSML markup allowed when ``ssml=True``).
        voice: ``language+variant`` such as ``"en-us+m1"`` (see :data:`VOICES`) or a bare language.
        rate: speaking rate in words per minute (80-450).
        pitch: base pitch, 0-100 (50 = the voice's default).
        range: pitch range, 0-100 (50 = default; eSpeak also raises the mean pitch with it).
        volume: amplitude, 0-200 (100 = default; above ~170 the output clips).
        sr: output rate; the native 22,050 Hz output is resampled with a polyphase filter.
        ssml: interpret SSML tags in ``text``.

    The result is bit-identical for the same arguments, whatever was synthesised before.
    It contains eSpeak's exact digital silence at the edges; callers that need a noise
    floor add one.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("tts.synthesize: text must be a non-empty string")
    if not isinstance(voice, str) or not voice or any(c.isspace() for c in voice):
        raise ValueError(f"tts.synthesize: voice must be a name such as 'en-us+m1', got {voice!r}")
    req = dict(text=text, voice=voice, rate=_check_range("rate", rate, 80, 450),
               pitch=_check_range("pitch", pitch, 0, 100), range=_check_range("range", range, 0, 100),
               volume=_check_range("volume", volume, 0, 200), ssml=bool(ssml))
    server = _server()
    pcm = server.request(req)
    if pcm.size == 0:
        raise TTSError(f"eSpeak NG produced no audio for {text[:60]!r} with voice {voice!r}")
    return resample(pcm.astype(np.float32) / 32768.0, server.sr, sr)
