package org.sambridge.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * A failed SAMBridge call: carries the gRPC status code and the server's
 * message, with a hint for the common cases (server down, bad token, timeout).
 */
public class SamBridgeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status.Code code;
    private final String serverMessage;

    /**
     * @param operation what was attempted, e.g. "Segment"
     * @param code gRPC status code
     * @param serverMessage the status description (may be null)
     * @param cause the underlying exception (may be null)
     */
    public SamBridgeException(String operation, Status.Code code, String serverMessage, Throwable cause) {
        super(operation + " failed: " + code + (serverMessage == null ? "" : ": " + serverMessage) + hint(code),
                cause);
        this.code = code;
        this.serverMessage = serverMessage;
    }

    /**
     * Wraps a gRPC failure.
     *
     * @param operation what was attempted
     * @param e the gRPC exception
     * @return the wrapped exception
     */
    public static SamBridgeException from(String operation, StatusRuntimeException e) {
        Status status = e.getStatus();
        String description = status.getDescription();
        if (description == null && status.getCause() != null) {
            description = status.getCause().getMessage();
        }
        return new SamBridgeException(operation, status.getCode(), description, e);
    }

    /** @return the gRPC status code */
    public Status.Code code() {
        return code;
    }

    /** @return the server's (or transport's) message, may be null */
    public String serverMessage() {
        return serverMessage;
    }

    private static String hint(Status.Code code) {
        switch (code) {
            case UNAVAILABLE:
                return " (is the SAMBridge server running at that address, and is the TLS setting right?)";
            case UNAUTHENTICATED:
                return " (check the token)";
            case DEADLINE_EXCEEDED:
                return " (no answer within the timeout; raise it for large images or slow devices)";
            default:
                return "";
        }
    }
}
