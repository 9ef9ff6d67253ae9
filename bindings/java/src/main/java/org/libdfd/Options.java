package org.libdfd;

/** Model load options; null means the default ({@code dfd_model_options}). */
public final class Options {
    /** "auto" (default), "cpu", "cuda" or a plugin name. */
    public String backend;
    /** "auto" (default), "fp32", "fp16" or "int8". */
    public String precision;
    /** Searched for backend plugins first. */
    public String pluginDir;
    /** Backend worker threads; 0 = backend default. */
    public int threads;

    public Options backend(String b) { backend = b; return this; }
    public Options precision(String p) { precision = p; return this; }
    public Options pluginDir(String d) { pluginDir = d; return this; }
    public Options threads(int t) { threads = t; return this; }
}
