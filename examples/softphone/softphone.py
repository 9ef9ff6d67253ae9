#!/usr/bin/env python3
"""dfd-softphone: a SIP user agent (PJSIP's pjsua2) that scores the remote
party of every call (``--score local``/``both``: its own side too) for
synthetic speech, live, in its media path.

One libdfd stream per call and scored party, fed from an
``AudioMediaPort`` at the negotiated codec's clock rate; JSON lines on stdout
when a call's verdict changes and when it ends. It answers calls and, with
``--call URI``, places them (``--play WAV`` sends a file into the call).
See README.md beside this file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pjsua2 as pj

import dfd

# One packet time: the frames pjmedia's clock hands the port.
FRAME_USEC = 20_000
# The most calls pjsua2-python 2.15 keeps per agent (PJSUA_MAX_CALLS).
MAX_CALLS = 4
# Numbers each call leg this agent scores (pjsua reuses call ids).
LEG_NUMBERS = itertools.count()
# A codec whose clock runs at this rate gets the telephone model.
NARROWBAND_HZ = 8000
# pjmedia's conference bridge is asynchronous since PJSIP 2.15.1: a port
# taken off it is removed by the clock thread on a later tick, which may
# still call it until then (pjproject #3928, #4200, #4526). Freeing the
# Python object at once crashed the agent (SIGSEGV after ~40 calls, 1 run in
# 2 of 80 G.722 calls); ports and players are kept this long after their
# call ends, then freed.
RETIRE_S = 1.0


def emit(event: dict) -> None:
    """One JSON object per line on stdout, flushed (a pipe reader sees it now)."""
    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    sys.stderr.write(f"softphone: {msg}\n")
    sys.stderr.flush()


class Models:
    """Loads each model once (a model is shared by every call's stream)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.loaded: Dict[str, dfd.Model] = {}

    def _load(self, ref: str) -> dfd.Model:
        """A path, or builtin:NAME (default, telephone)."""
        if ref not in self.loaded:
            self.loaded[ref] = dfd.Model.from_ref(ref, backend=self.args.backend, precision=self.args.precision)
        return self.loaded[ref]

    def for_rate(self, clock_rate: int) -> dfd.Model:
        narrow = self.args.model_8k if clock_rate <= NARROWBAND_HZ else None
        return self._load(narrow or self.args.model)


@dataclass
class Scorer:
    """One call leg's libdfd stream, fed by a worker thread from a queue.

    pjmedia's clock thread calls ``onFrameReceived`` every 20 ms for every
    port on the bridge; a push that completes a window runs the model, which
    may take longer than a frame (a heavy model, a loaded CPU). So the port
    only queues the frame and this worker pushes, scores and reports."""

    call_id: int
    party: str
    remote: str
    local: str
    codec: str
    rate: int
    model: dfd.Model
    args: argparse.Namespace
    frames: "queue.Queue[Optional[bytes]]" = field(default_factory=queue.Queue)
    codecs: List[str] = field(default_factory=list)
    reason: str = "hangup"

    def __post_init__(self) -> None:
        self.codecs.append(self.codec)
        self.stream = self.model.open(self.rate, 1)
        self.verdict = dfd.Verdict.UNKNOWN
        self.hooked = False
        self.max_push_ms = 0.0
        self.record: Optional[wave.Wave_write] = None
        if self.args.record_dir:
            path = Path(self.args.record_dir) / f"leg-{next(LEG_NUMBERS)}.wav"
            self.record = wave.open(str(path), "wb")
            self.record.setnchannels(1)
            self.record.setsampwidth(2)
            self.record.setframerate(self.rate)
            self.record_path = str(path)
        self.thread = threading.Thread(target=self._run, name=f"dfd-call-{self.call_id}-{self.party}", daemon=True)
        self.thread.start()

    def _event(self, kind: str, r: dfd.Result) -> dict:
        e = {
            "event": kind,
            "call": self.call_id,
            "party": self.party,
            "remote": self.remote,
            "local": self.local,
            "codec": self.codec,
            "model": self.model.info.name,
            "rate": self.rate,
            "verdict": r.verdict.name.lower(),
            "p_fake": round(r.p_fake, 6),
            "windows": r.windows,
            "seconds": round(r.seconds, 3),
            "speech_seconds": round(r.speech_seconds, 3),
        }
        return e

    def _run(self) -> None:
        try:
            while True:
                pcm = self.frames.get()
                if pcm is None:
                    break
                self._push(pcm)
            self.stream.flush()
            r = self.stream.score()
            self._check_verdict(r)
            end = self._event("end", r)
            end.update(reason=self.reason, codecs=self.codecs, max_push_ms=round(self.max_push_ms, 3))
            if self.record:
                self.record.close()
                end["recording"] = self.record_path
            emit(end)
        except dfd.Error as e:
            log(f"call {self.call_id} ({self.party} party): scoring failed: {e}")
            emit({"event": "error", "call": self.call_id, "party": self.party, "error": str(e)})
        finally:
            self.stream.close()

    def _push(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2")
        if samples.size == 0:
            return
        if self.record:
            self.record.writeframes(pcm)
        t0 = time.perf_counter()
        self.stream.push(samples)
        self.max_push_ms = max(self.max_push_ms, (time.perf_counter() - t0) * 1e3)
        self._check_verdict(self.stream.score())

    def _check_verdict(self, r: dfd.Result) -> None:
        if r.verdict == self.verdict:
            return
        self.verdict = r.verdict
        emit(self._event("verdict", r))
        if r.verdict == dfd.Verdict.SYNTHETIC and self.args.on_synthetic and not self.hooked:
            self.hooked = True
            env = dict(
                os.environ,
                CALL_ID=str(self.call_id),
                PARTY=self.party,
                REMOTE=self.remote,
                LOCAL=self.local,
                P_FAKE=f"{r.p_fake:.6f}",
                CODEC=self.codec,
            )
            subprocess.Popen(["sh", "-c", self.args.on_synthetic], env=env)

    def finish(self, reason: str) -> None:
        """The call ended: the worker flushes what is left and reports."""
        self.reason = reason
        self.frames.put(None)


class DetectorPort(pj.AudioMediaPort):
    """A passive port on the conference bridge: receives one party's audio
    (the call's decoded audio, or what this agent sends into it), resampled
    by the bridge to the port's rate, and plays nothing."""

    def __init__(self, scorer: Scorer) -> None:
        super().__init__()
        self.scorer = scorer
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, scorer.rate, 1, FRAME_USEC, 16, 0, 0)
        self.createPort(f"dfd-{scorer.call_id}-{scorer.party}", fmt)

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        # None once the call has ended (see Agent.ended); the clock thread
        # may call a retired port until the bridge has removed it.
        scorer = self.scorer
        if scorer is not None and frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
            scorer.frames.put(bytes(frame.buf))


class EofPlayer(pj.AudioMediaPlayer):
    """Plays a WAV file once into a call; marks when it is done (the
    callback runs on the clock thread: it only sets a flag)."""

    def __init__(self) -> None:
        super().__init__()
        self.done_at: Optional[float] = None

    def onEof2(self) -> None:
        if self.done_at is None:
            self.done_at = time.monotonic()


class Call(pj.Call):
    def __init__(self, agent: "Agent", acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID, play: Optional[str] = None):
        super().__init__(acc, call_id)
        self.agent = agent
        self.play = play
        self.player: Optional[EofPlayer] = None
        # One scorer and port per scored party ("remote", "local").
        self.ports: Dict[str, DetectorPort] = {}
        self.scorers: Dict[str, Scorer] = {}
        self.remote = ""
        self.media_up = False
        self.media_at: Optional[float] = None
        self.placed = False
        self.reinvited = False
        self.ended = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        ci = self.getInfo()
        self.remote = ci.remoteUri
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.agent.ended(self, ci)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        ci = self.getInfo()
        for mi in ci.media:
            if mi.type != pj.PJMEDIA_TYPE_AUDIO or mi.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            if not self.media_up:
                self.media_up = True
                self.media_at = time.monotonic()
            aud = self.getAudioMedia(mi.index)
            si = self.getStreamInfo(mi.index)
            codec = f"{si.codecName}/{si.codecClockRate}"
            if self.play and self.player is None:
                self.player = EofPlayer()
                self.player.createPlayer(self.play, pj.PJMEDIA_FILE_NO_LOOP)
            # A re-INVITE that re-creates the media gives the call a new
            # conference slot: every connection is made again (pjmedia
            # ignores a connection that already exists).
            score = self.agent.args.score
            local: Optional[pj.AudioMedia] = self.player
            if local is None and (score in ("local", "both") or self.agent.args.sound_device):
                local = self.agent.ep.audDevManager().getCaptureDevMedia()
            if local is not None:
                local.startTransmit(aud)
            if score in ("remote", "both"):
                self._attach("remote", ci, aud, codec, si.codecClockRate)
            if score in ("local", "both") and local is not None:
                self._attach("local", ci, local, codec, si.codecClockRate)

    def _attach(self, party: str, ci: pj.CallInfo, source: pj.AudioMedia, codec: str, rate: int) -> None:
        """First media: a new stream at the codec's rate. A re-INVITE (new
        media, maybe a new codec) keeps the call's stream and timeline: the
        port stays at its rate, the bridge resamples the new codec to it."""
        scorer = self.scorers.get(party)
        if scorer is None:
            model = self.agent.models.for_rate(rate)
            scorer = Scorer(ci.id, party, ci.remoteUri, ci.localUri, codec, rate, model, self.agent.args)
            self.scorers[party] = scorer
            self.ports[party] = DetectorPort(scorer)
            log(f"call {ci.id} with {ci.remoteUri}: {codec}, scoring the {party} party at {rate} Hz with {model.info.name}")
        elif codec not in scorer.codecs:
            scorer.codecs.append(codec)
            log(f"call {ci.id}: re-INVITE to {codec}, same {party} stream")
        source.startTransmit(self.ports[party])


class Account(pj.Account):
    def __init__(self, agent: "Agent") -> None:
        super().__init__()
        self.agent = agent

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = Call(self.agent, self, prm.callId)
        self.agent.calls.append(call)
        op = pj.CallOpParam()
        op.statusCode = pj.PJSIP_SC_OK
        try:
            call.answer(op)
        except pj.Error as e:
            log(f"cannot answer call {prm.callId}: {e.info()}")


class LogWriter(pj.LogWriter):
    """PJSIP's own log (malformed messages, transport errors) to stderr."""

    def write(self, entry: pj.LogEntry) -> None:
        sys.stderr.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.models = Models(args)
        self.calls: List[Call] = []
        self.ended_calls = 0
        # (when, ports and player of an ended call), freed RETIRE_S later.
        self.retired: List[Tuple[float, list]] = []
        self.ep = pj.Endpoint()
        # libCreate logs to stdout before any log config exists: keep
        # stdout for the JSON events.
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            self.ep.libCreate()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        cfg = pj.EpConfig()
        # pjsua2 hands out copies of nested configs: change and assign back.
        ua = cfg.uaConfig
        ua.threadCnt = 0
        ua.mainThreadOnly = True
        ua.maxCalls = MAX_CALLS
        ua.userAgent = "dfd-softphone"
        cfg.uaConfig = ua
        med = cfg.medConfig
        med.noVad = True  # keep sending in silences: the timeline stays whole
        med.ecTailLen = 0  # no echo canceller on the path being scored
        cfg.medConfig = med
        lc = cfg.logConfig
        lc.level = args.sip_log_level
        lc.consoleLevel = args.sip_log_level
        self.log_writer = LogWriter()
        lc.writer = self.log_writer
        lc.decor = 0
        cfg.logConfig = lc
        self.ep.libInit(cfg)
        tc = pj.TransportConfig()
        host, _, port = args.listen.rpartition(":")
        tc.boundAddress = host
        tc.port = int(port)
        tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        self.ep.libStart()
        if not args.sound_device:
            self.ep.audDevManager().setNullDev()
        elif self.ep.audDevManager().getDevCount() == 0:
            # pjsua2-python's binary wheel is built without audio drivers.
            self.ep.libDestroy()
            raise SystemExit("softphone: --sound-device: this PJSIP build has no sound device (the pjsua2-python "
                             "wheel has no audio driver); use a PJSIP built with ALSA or PortAudio")
        # Both lists are resolved now, so a bad name fails at start, not mid-call.
        self.codec_priorities = self._priorities(args.codecs)
        self.reinvite_priorities = self._priorities(args.reinvite_codecs)
        self._apply(self.codec_priorities)
        self.local = self.ep.transportGetInfo(tid).localName
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:dfd@{self.local}"
        mc = acfg.mediaConfig
        tc = mc.transportConfig
        tc.boundAddress = host
        tc.port = 0  # RTP on any free port (two agents on one host)
        mc.transportConfig = tc
        acfg.mediaConfig = mc
        self.account = Account(self)
        self.account.create(acfg)
        log(f"listening on sip:{self.local} (udp)")

    def _priorities(self, wanted: Optional[str]) -> Optional[Dict[str, int]]:
        """--codecs PCMU,G722: only these, in this order, as pjsua codec
        priorities (0 disables); None for no list."""
        if not wanted:
            return None
        names = [w.strip().lower() for w in wanted.split(",") if w.strip()]
        found = set()
        out: Dict[str, int] = {}
        for c in self.ep.codecEnum2():
            base = c.codecId.split("/")[0].lower()
            ident = c.codecId.lower()
            prio = 0
            for i, n in enumerate(names):
                if n == base or ident.startswith(n):
                    prio = 254 - i
                    found.add(n)
                    break
            out[c.codecId] = prio
        missing = [n for n in names if n not in found]
        if missing:
            raise SystemExit(f"softphone: no codec {', '.join(missing)} in this PJSIP build")
        return out

    def _apply(self, priorities: Optional[Dict[str, int]]) -> None:
        for codec, prio in (priorities or {}).items():
            self.ep.codecSetPriority(codec, prio)

    def place(self, uri: str, play: Optional[str]) -> None:
        call = Call(self, self.account, play=play)
        call.placed = True
        self.calls.append(call)
        try:
            call.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as e:
            log(f"cannot call {uri}: {e.info()}")
            emit({"event": "call_failed", "remote": uri, "status": 0, "reason": e.info()})
            call.ended = True

    def ended(self, call: Call, ci: pj.CallInfo) -> None:
        """Runs on the main thread (pjsua callbacks): detach the ports first,
        so that no frame reaches a scorer after the worker's end marker, and
        retire them (see RETIRE_S)."""
        call.ended = True
        self.ended_calls += 1
        for port in call.ports.values():
            port.scorer = None
        self.retired.append((time.monotonic(), [*call.ports.values(), call.player]))
        call.ports.clear()
        call.player = None
        if not call.media_up:
            log(f"call {ci.id} with {ci.remoteUri} failed: {ci.lastStatusCode} {ci.lastReason}")
            emit({"event": "call_failed", "call": ci.id, "remote": ci.remoteUri, "status": ci.lastStatusCode, "reason": ci.lastReason})
        for scorer in call.scorers.values():
            scorer.finish("hangup" if ci.lastStatusCode < 300 else f"{ci.lastStatusCode} {ci.lastReason}")

    def step(self) -> None:
        """Main loop work: re-INVITE calls due for it, hang up calls whose
        file has been played, and forget calls that have ended (pjsua2
        objects are freed here, never inside their own callbacks)."""
        now = time.monotonic()
        for call in self.calls:
            self._maybe_reinvite(call, now)
            p = call.player
            if not call.ended and p is not None and p.done_at is not None and now - p.done_at >= self.args.hangup_after:
                p.done_at = float("inf")
                try:
                    call.hangup(pj.CallOpParam(True))
                except pj.Error as e:
                    log(f"hangup failed: {e.info()}")
        # Destroying a port or player removes it from the bridge.
        self.retired = [r for r in self.retired if now - r[0] < RETIRE_S]
        done = [c for c in self.calls if c.ended]
        for c in done:
            for scorer in c.scorers.values():
                scorer.thread.join()
        self.calls = [c for c in self.calls if not c.ended]

    def _maybe_reinvite(self, call: Call, now: float) -> None:
        """--reinvite-after S: S seconds into a placed call's media, offer
        --reinvite-codecs instead (new local SDP), once per call. The codec
        priorities are the endpoint's: later offers and answers use them."""
        a = self.args
        if a.reinvite_after is None or not call.placed or call.reinvited or call.ended or call.media_at is None:
            return
        if now - call.media_at < a.reinvite_after:
            return
        call.reinvited = True
        self._apply(self.reinvite_priorities)
        prm = pj.CallOpParam(True)
        prm.opt.flag |= pj.PJSUA_CALL_REINIT_MEDIA
        try:
            call.reinvite(prm)
            log(f"re-INVITE offering {a.reinvite_codecs}")
        except pj.Error as e:
            log(f"re-INVITE failed: {e.info()}")

    def shutdown(self) -> None:
        self.ep.hangupAllCalls()
        deadline = time.monotonic() + 2
        while self.calls and time.monotonic() < deadline:
            self.ep.libHandleEvents(20)
            self.step()
        # pjsua2 objects must be gone before the library (libDestroy runs
        # the bridge's pending removals).
        self.calls.clear()
        self.retired.clear()
        del self.account
        self.ep.libDestroy()


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default="0.0.0.0:5060", help="SIP UDP address (port 0 picks a free one; printed on stderr)")
    p.add_argument("--codecs", help="only these codecs, in order of preference, e.g. PCMU,G722 (default: PJSIP's)")
    p.add_argument("--call", action="append", default=[], metavar="URI", help="place a call (repeatable, up to 4)")
    p.add_argument("--play", action="append", default=[], metavar="WAV", help="file played into the n-th --call, then hung up")
    p.add_argument("--hangup-after", type=float, default=0.5, metavar="S", help="seconds after --play ends before hanging up")
    p.add_argument("--score", choices=["remote", "local", "both", "none"], default="remote",
                   help="score the remote party (default), the local one (what this agent sends: the --play file, or "
                        "the microphone with --sound-device), both (one stream each), or nothing")
    p.add_argument("--sound-device", action="store_true",
                   help="use the system's default sound devices (microphone into the call, the call to the speaker) "
                        "instead of PJSIP's null device; needs a PJSIP built with an audio driver (the "
                        "pjsua2-python wheel has none)")
    p.add_argument("--reinvite-after", type=float, metavar="S",
                   help="re-INVITE each placed call S seconds after its media is up, offering --reinvite-codecs")
    p.add_argument("--reinvite-codecs", metavar="LIST", help="the codecs the re-INVITE offers, in order (as --codecs)")
    p.add_argument("--model", default=None,
                   help="model file, package or builtin:NAME for every call (default: builtin:default above "
                        "8 kHz, builtin:telephone at 8 kHz)")
    p.add_argument("--model-8k", help="model for calls whose codec runs at 8 kHz (default: --model if given, "
                                      "else builtin:telephone)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--on-synthetic", metavar="CMD",
                   help="sh -c CMD when a call's party turns synthetic; CALL_ID, PARTY, REMOTE, LOCAL, P_FAKE, CODEC set")
    p.add_argument("--record-dir", help="write each call's scored audio to DIR/leg-N.wav")
    p.add_argument("--max-calls", type=int, help="exit after this many calls have ended")
    p.add_argument("--duration", type=float, help="exit after this many seconds")
    p.add_argument("--sip-log-level", type=int, default=2, help="PJSIP log level on stderr (0-6)")
    args = p.parse_args(argv)
    if len(args.call) > MAX_CALLS:
        p.error(f"at most {MAX_CALLS} calls at once (pjsua2-python's limit)")
    if len(args.play) > len(args.call):
        p.error("--play pairs with a --call")
    if (args.reinvite_after is None) != (args.reinvite_codecs is None):
        p.error("--reinvite-after and --reinvite-codecs go together")
    if args.score in ("local", "both") and not args.sound_device and not args.play:
        p.error("--score local/both scores what this agent sends: give --play or --sound-device")
    if args.model_8k is None:
        args.model_8k = args.model or dfd.BUILTIN_PREFIX + "telephone"
    if args.model is None:
        args.model = dfd.BUILTIN_PREFIX + "default"
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    agent = Agent(args)
    for i, uri in enumerate(args.call):
        agent.place(uri, args.play[i] if i < len(args.play) else None)
    started = time.monotonic()
    while not stop.is_set():
        agent.ep.libHandleEvents(20)
        agent.step()
        if args.call and not agent.calls:
            break  # every call placed has ended
        if args.max_calls is not None and agent.ended_calls >= args.max_calls:
            break
        if args.duration is not None and time.monotonic() - started >= args.duration:
            break
    agent.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
