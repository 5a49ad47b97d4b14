package org.sambridge.client;

/** Receives progress of long calls (embedding, automatic segmentation, propagation, tracking). */
@FunctionalInterface
public interface ProgressListener {
    /** A listener that ignores progress. */
    ProgressListener NONE = (stage, done, total, message) -> { };

    /**
     * Called for each Progress event of the server.
     *
     * @param stage what is being done, e.g. "embedding"
     * @param done units done
     * @param total units in all, 0 when unknown
     * @param message free text, may be empty
     */
    void onProgress(String stage, long done, long total, String message);

    /**
     * Polled between events; returning true cancels the call on the server.
     *
     * @return true to cancel
     */
    default boolean isCancelled() {
        return false;
    }
}
