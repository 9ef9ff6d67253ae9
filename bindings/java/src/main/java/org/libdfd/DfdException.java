package org.libdfd;

/** A failed libdfd call: {@link #status()} is the {@link Status} code, the
 * message is {@code dfd_last_error()}. */
public class DfdException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;

    public DfdException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** One of the {@link Status} codes. */
    public int status() {
        return status;
    }
}
