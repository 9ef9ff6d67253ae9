package org.libdfd;

/** The {@code dfd_status} codes of dfd.h. */
public final class Status {
    private Status() {}

    public static final int OK = 0;
    public static final int NULL_ARG = 1;
    public static final int INVALID_ARG = 2;
    public static final int BAD_SAMPLES = 3;
    public static final int SAMPLE_RATE = 4;
    public static final int CHANNELS = 5;
    public static final int EMPTY_PUSH = 6;
    public static final int IO = 7;
    public static final int MODEL_CORRUPT = 8;
    public static final int MODEL_KIND = 9;
    public static final int MODEL_UNSUPPORTED = 10;
    public static final int PRECISION_UNAVAILABLE = 11;
    public static final int PLUGIN_NOT_FOUND = 12;
    public static final int PLUGIN_INCOMPATIBLE = 13;
    public static final int BACKEND_UNAVAILABLE = 14;
    public static final int BACKEND = 15;
    public static final int BUFFER_TOO_SMALL = 16;
    public static final int INTERNAL = 17;
    public static final int NOT_BUILT = 18;
}
