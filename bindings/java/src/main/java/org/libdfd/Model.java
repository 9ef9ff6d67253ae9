package org.libdfd;

/**
 * A loaded model ({@code dfd_model}): immutable, shared by any number of
 * threads and streams. Close it when done; open streams keep it alive.
 */
public final class Model implements AutoCloseable {
    static { Dfd.init(); }

    private long handle;

    private Model(long handle) {
        this.handle = handle;
    }

    /** Loads an .onnx model (manifest embedded or sidecar) or a package directory. */
    public static Model load(String path, Options options) {
        Options o = options == null ? new Options() : options;
        return new Model(nLoad(path, o.backend, o.precision, o.pluginDir, o.threads));
    }

    public static Model load(String path) {
        return load(path, null);
    }

    /** Loads an ONNX model (manifest embedded) from memory, e.g. an Android asset. */
    public static Model fromBytes(byte[] onnx, Options options) {
        Options o = options == null ? new Options() : options;
        return new Model(nLoadMemory(onnx, o.backend, o.precision, o.pluginDir, o.threads));
    }

    /**
     * A model compiled into libdfd by name: {@code "default"} (16 kHz) or
     * {@code "telephone"} (8 kHz calls), or a model name such as
     * {@code "dfd-lfb-cnn-tel-v2"}; {@code null} is the default model.
     */
    public static Model builtin(String name, Options options) {
        Options o = options == null ? new Options() : options;
        return new Model(nLoadBuiltin(name, o.backend, o.precision, o.pluginDir, o.threads));
    }

    /** The default detector compiled into libdfd. */
    public static Model builtin(Options options) {
        return builtin(null, options);
    }

    public static Model builtin() {
        return builtin(null);
    }

    public synchronized ModelInfo info() {
        double[] n = new double[4];
        String[] s = new String[3];
        nInfo(live(), n, s);
        return new ModelInfo(n, s);
    }

    /** Opens a stream for audio at {@code sampleRate} Hz with {@code channels} interleaved channels. */
    public Stream open(int sampleRate, int channels) {
        return new Stream(this, sampleRate, channels);
    }

    synchronized long live() {
        if (handle == 0) throw new DfdException(Status.NULL_ARG, "the model was closed");
        return handle;
    }

    @Override
    public synchronized void close() {
        if (handle != 0) {
            nFree(handle);
            handle = 0;
        }
    }

    private static native long nLoad(String path, String backend, String precision, String pluginDir, int threads);
    private static native long nLoadMemory(byte[] data, String backend, String precision, String pluginDir, int threads);
    private static native long nLoadBuiltin(String name, String backend, String precision, String pluginDir, int threads);
    private static native void nInfo(long handle, double[] numbers, String[] strings);
    private static native void nFree(long handle);
}
