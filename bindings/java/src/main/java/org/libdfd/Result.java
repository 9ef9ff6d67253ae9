package org.libdfd;

/** Scores of a stream so far ({@code dfd_result}). */
public final class Result {
    /** Whole stream: calibrated probability that the voice is synthetic. */
    public final float pFake;
    /** The latest scored window's probability. */
    public final float lastPFake;
    public final long windows;
    public final double seconds;
    public final double speechSeconds;
    public final Verdict verdict;
    public final long windowsDropped;

    Result(double[] v) {
        pFake = (float) v[0];
        lastPFake = (float) v[1];
        windows = (long) v[2];
        seconds = v[3];
        speechSeconds = v[4];
        verdict = Verdict.of((int) v[5]);
        windowsDropped = (long) v[6];
    }
}
