package org.libdfd;

/** {@code DFD_VERDICT_*}. */
public enum Verdict {
    UNKNOWN,
    BONAFIDE,
    SYNTHETIC;

    static Verdict of(int code) {
        return code == 1 ? BONAFIDE : code == 2 ? SYNTHETIC : UNKNOWN;
    }
}
