package org.libdfd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * Test program of the Java bindings (run by tests/bindings_java.rs):
 * scores each 16-bit PCM WAV file given with the built-in model, pushing
 * 20 ms chunks, and prints
 *   FILE p_fake 0.123456 windows N verdict synthetic|bonafide|unknown
 * then checks the error paths. Exits 0 and prints "all checks passed" only
 * if every check passed.
 */
public final class BindingsTest {
    private static int failures = 0;

    private static void expect(boolean ok, String what) {
        if (!ok) {
            System.err.println("FAILED: " + what);
            failures++;
        }
    }

    interface Body { void run(); }

    private static void expectStatus(int status, String what, Body body) {
        try {
            body.run();
            expect(false, what + ": no exception");
        } catch (DfdException e) {
            expect(e.status() == status, what + ": status " + e.status() + " (" + e.getMessage() + "), want " + status);
        }
    }

    /** (rate, channels, samples) of a 16-bit PCM WAV file. */
    static final class Wav {
        int rate, channels;
        short[] pcm;
    }

    static Wav readWav(String path) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(Paths.get(path))).order(ByteOrder.LITTLE_ENDIAN);
        Wav w = new Wav();
        int bits = 0;
        int pos = 12;
        while (pos + 8 <= b.limit()) {
            String id = new String(new byte[] {b.get(pos), b.get(pos + 1), b.get(pos + 2), b.get(pos + 3)}, "US-ASCII");
            int len = b.getInt(pos + 4);
            if (id.equals("fmt ")) {
                w.channels = b.getShort(pos + 10);
                w.rate = b.getInt(pos + 12);
                bits = b.getShort(pos + 22);
            } else if (id.equals("data")) {
                if (bits != 16) throw new IOException(path + ": 16-bit PCM only");
                len = Math.min(len, b.limit() - pos - 8);
                w.pcm = new short[len / 2];
                for (int i = 0; i < w.pcm.length; i++) w.pcm[i] = b.getShort(pos + 8 + 2 * i);
                return w;
            }
            pos += 8 + len + (len & 1);
        }
        throw new IOException(path + ": no data chunk");
    }

    public static void main(String[] args) throws IOException {
        System.out.println("libdfd " + Dfd.version() + " abi " + Dfd.abiVersion());
        try (Model tel = Model.builtin("telephone", null)) {
            ModelInfo t = tel.info();
            expect(t.sampleRate == 8000 && t.name.equals("dfd-lfb-cnn-tel-v2"), "builtin telephone: " + t.name + " " + t.sampleRate);
        }
        expectStatus(Status.INVALID_ARG, "builtin(\"wideband\")", () -> Model.builtin("wideband", null).close());
        try (Model model = Model.builtin()) {
            ModelInfo info = model.info();
            System.out.println("model " + info.name + " on " + info.backend + " (" + info.precision + ") " + info.sampleRate + " Hz");
            for (String file : args) {
                Wav w = readWav(file);
                Result r;
                try (Stream s = model.open(w.rate, w.channels)) {
                    int chunk = Math.max(1, w.rate / 50) * w.channels;
                    for (int pos = 0; pos < w.pcm.length; pos += chunk)
                        s.push(w.pcm, pos, Math.min(chunk, w.pcm.length - pos));
                    s.flush();
                    r = s.score();
                    Window[] windows = s.readWindows();
                    expect(windows.length == r.windows, "readWindows returns every window");
                    for (Window win : windows) expect(win.end > win.start && win.pFake >= 0 && win.pFake <= 1, "window range");
                }
                String verdict = r.verdict == Verdict.SYNTHETIC ? "synthetic" : r.verdict == Verdict.BONAFIDE ? "bonafide" : "unknown";
                System.out.println(file + " p_fake " + String.format(java.util.Locale.ROOT, "%.6f", r.pFake)
                        + " windows " + r.windows + " verdict " + verdict);

                // float samples in [-1, 1] are the same audio.
                float[] f = new float[w.pcm.length];
                for (int i = 0; i < f.length; i++) f[i] = w.pcm[i] / 32768.0f;
                try (Stream s = model.open(w.rate, w.channels)) {
                    int chunk = Math.max(1, w.rate / 50) * w.channels;
                    for (int pos = 0; pos < f.length; pos += chunk) s.push(f, pos, Math.min(chunk, f.length - pos));
                    s.flush();
                    Result rf = s.score();
                    expect(rf.windows == r.windows && Math.abs(rf.pFake - r.pFake) < 1e-6, "float push matches int16 push");
                }
            }

            // Error paths: status codes of dfd.h.
            expectStatus(Status.IO, "missing model file", () -> Model.load("/nonexistent/model.onnx"));
            try {
                Model.load("/nonexistent/model.onnx");
            } catch (DfdException e) {
                expect(e.getMessage().contains("/nonexistent/model.onnx"), "message names the path: " + e.getMessage());
            }
            expectStatus(Status.MODEL_CORRUPT, "garbage bytes", () -> Model.fromBytes(new byte[] {1, 2, 3}, null));
            expectStatus(Status.INVALID_ARG, "bad precision", () -> Model.builtin(new Options().precision("fp64")));
            expectStatus(Status.PLUGIN_NOT_FOUND, "unknown backend", () -> Model.builtin(new Options().backend("nosuch")));
            expectStatus(Status.SAMPLE_RATE, "rate 0", () -> model.open(0, 1));
            expectStatus(Status.SAMPLE_RATE, "negative rate", () -> model.open(-8000, 1));
            expectStatus(Status.CHANNELS, "0 channels", () -> model.open(16000, 0));
            try (Stream s = model.open(16000, 2)) {
                float[] nan = new float[320];
                nan[7] = Float.NaN;
                expectStatus(Status.BAD_SAMPLES, "NaN", () -> s.push(nan));
                expectStatus(Status.INVALID_ARG, "odd sample count", () -> s.push(new short[3]));
                expectStatus(Status.EMPTY_PUSH, "empty push", () -> s.push(new short[0]));
                expectStatus(Status.INVALID_ARG, "range outside array", () -> s.push(new short[4], 2, 4));
                s.push(new float[3200]);
                expect(Math.abs(s.score().seconds - 0.1) < 1e-9, "stream usable after a rejected chunk");
            }
            Stream closed = model.open(16000, 1);
            closed.close();
            closed.close(); // closing twice is fine
            expectStatus(Status.NULL_ARG, "closed stream", () -> closed.flush());
        }
        if (failures > 0) {
            System.err.println(failures + " check(s) failed");
            System.exit(1);
        }
        System.out.println("all checks passed");
    }
}
