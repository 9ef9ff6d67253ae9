package org.libdfd;

/**
 * One audio stream ({@code dfd_stream}) at a fixed rate and channel count.
 * Used by one thread at a time (its methods are synchronized, so misuse
 * serializes instead of corrupting). Close it when done.
 */
public final class Stream implements AutoCloseable {
    static { Dfd.init(); }

    private long handle;
    private final int channels;

    public Stream(Model model, int sampleRate, int channels) {
        this.handle = nOpen(model.live(), sampleRate, channels);
        this.channels = channels;
    }

    public int channels() {
        return channels;
    }

    /** Pushes interleaved 16-bit samples (a whole number of frames). */
    public void push(short[] interleaved) {
        push(interleaved, 0, interleaved.length);
    }

    /** Pushes {@code length} interleaved samples from {@code offset}. */
    public synchronized void push(short[] interleaved, int offset, int length) {
        checkRange(interleaved.length, offset, length);
        nPushI16(live(), interleaved, offset, length / channels);
    }

    /** Pushes interleaved float samples in [-1, 1] (a whole number of frames). */
    public void push(float[] interleaved) {
        push(interleaved, 0, interleaved.length);
    }

    public synchronized void push(float[] interleaved, int offset, int length) {
        checkRange(interleaved.length, offset, length);
        nPushF32(live(), interleaved, offset, length / channels);
    }

    /** Ends the stream (end of a file): scores the tail. */
    public synchronized void flush() {
        nFlush(live());
    }

    public synchronized void reset() {
        nReset(live());
    }

    public synchronized Result score() {
        double[] v = new double[7];
        nScore(live(), v);
        return new Result(v);
    }

    /** Takes up to {@code max} unread per-window results, oldest first. */
    public synchronized Window[] readWindows(int max) {
        double[] buf = new double[3 * Math.max(max, 1)];
        int n = nReadWindows(live(), buf, max);
        Window[] out = new Window[n];
        for (int i = 0; i < n; i++) out[i] = new Window(buf[3 * i], buf[3 * i + 1], (float) buf[3 * i + 2]);
        return out;
    }

    public Window[] readWindows() {
        return readWindows(1024);
    }

    @Override
    public synchronized void close() {
        if (handle != 0) {
            nClose(handle);
            handle = 0;
        }
    }

    private long live() {
        if (handle == 0) throw new DfdException(Status.NULL_ARG, "the stream was closed");
        return handle;
    }

    private void checkRange(int size, int offset, int length) {
        if (offset < 0 || length < 0 || offset > size - length)
            throw new DfdException(Status.INVALID_ARG, "offset " + offset + " / length " + length + " outside an array of " + size);
        if (length % channels != 0)
            throw new DfdException(Status.INVALID_ARG, length + " samples is not a whole number of " + channels + "-channel frames");
    }

    private static native long nOpen(long model, int sampleRate, int channels);
    private static native void nPushI16(long handle, short[] data, int offset, int frames);
    private static native void nPushF32(long handle, float[] data, int offset, int frames);
    private static native void nFlush(long handle);
    private static native void nReset(long handle);
    private static native void nScore(long handle, double[] out);
    private static native int nReadWindows(long handle, double[] out, int max);
    private static native void nClose(long handle);
}
