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
     * Polled every 100 ms from a watcher thread (and between events); returning true cancels
     * the call at once, also while the server sends nothing, and the server stops its work.
     *
     * @return true to cancel
     */
    default boolean isCancelled() {
        return false;
    }

    /**
     * Called about once a second from a watcher thread while a long call runs, also when the
     * server sends no progress (e.g. to show the elapsed time).
     *
     * @param elapsedMs milliseconds since the call started
     */
    default void onTick(long elapsedMs) {
    }
}
