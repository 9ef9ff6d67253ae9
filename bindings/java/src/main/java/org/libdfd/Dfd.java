package org.libdfd;

/**
 * libdfd for the JVM (JNI over the C API of dfd.h). Loads the native
 * libraries on first use: {@code libdfd.so} (if the library path has it),
 * then the JNI glue {@code libdfd_jni.so}; the system property
 * {@code dfd.jni.library} may name the glue's absolute path instead.
 */
public final class Dfd {
    private Dfd() {}

    static {
        String path = System.getProperty("dfd.jni.library");
        if (path != null) {
            System.load(path);
        } else {
            // Android before API 23 does not resolve libdfd_jni's dependency
            // on libdfd.so by itself: load libdfd first where it is on the
            // library path; elsewhere the glue's DT_NEEDED/rpath finds it.
            try {
                System.loadLibrary("dfd");
            } catch (UnsatisfiedLinkError ignored) {
                // not on java.library.path: found through libdfd_jni's dependencies
            }
            System.loadLibrary("dfd_jni");
        }
    }

    /** Makes sure the native libraries are loaded (idempotent). */
    static void init() {}

    /** libdfd's version, e.g. "0.1.0". */
    public static native String version();

    /** The C ABI version of the loaded libdfd ({@code DFD_ABI_VERSION}). */
    public static native int abiVersion();

    /** {@code dfd_status_str}: a short description of a status code. */
    public static native String statusString(int status);
}
