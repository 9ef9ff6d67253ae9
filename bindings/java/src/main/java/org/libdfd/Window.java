package org.libdfd;

/** One scored analysis window, times in seconds from the stream start. */
public final class Window {
    public final double start;
    public final double end;
    public final float pFake;

    Window(double start, double end, float pFake) {
        this.start = start;
        this.end = end;
        this.pFake = pFake;
    }
}
