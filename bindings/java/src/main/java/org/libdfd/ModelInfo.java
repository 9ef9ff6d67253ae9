package org.libdfd;

/** What libdfd understood of a loaded model ({@code dfd_model_info}). */
public final class ModelInfo {
    public final int sampleRate;
    public final int window;
    public final int hop;
    public final float threshold;
    public final String name;
    public final String backend;
    public final String precision;

    ModelInfo(double[] n, String[] s) {
        sampleRate = (int) n[0];
        window = (int) n[1];
        hop = (int) n[2];
        threshold = (float) n[3];
        name = s[0];
        backend = s[1];
        precision = s[2];
    }
}
