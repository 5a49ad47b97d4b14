package org.sambridge.client;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;
import org.sambridge.v1.Progress;

/**
 * Runs a server-streaming call (Progress events, then one result) to completion:
 * forwards progress, returns the result, cancels the call on the server when the
 * listener asks to, and turns gRPC failures into {@link SamBridgeException}s.
 */
final class StreamingCall {
    /** How often the watcher polls the listener's isCancelled (ms). */
    static final long POLL_MS = 100;
    private StreamingCall() {
    }

    /**
     * @param operation name used in error messages
     * @param start starts the call (inside a cancellable context) and returns its events
     * @param progressOf the event's progress, or null
     * @param resultOf the event's result, or null
     * @param listener progress receiver
     * @param <E> event type
     * @param <R> result type
     * @return the result event's payload
     */
    static <E, R> R run(String operation, Supplier<Iterator<E>> start, Function<E, Progress> progressOf,
            Function<E, R> resultOf, ProgressListener listener) {
        ProgressListener sink = listener == null ? ProgressListener.NONE : listener;
        Context.CancellableContext context = Context.current().withCancellation();
        AtomicBoolean userCancelled = new AtomicBoolean();
        Thread watcher = listener == null ? null : watch(context, sink, userCancelled);
        Context previous = context.attach();
        try {
            Iterator<E> events = start.get();
            R result = null;
            while (events.hasNext()) {
                E event = events.next();
                Progress progress = progressOf.apply(event);
                if (progress != null) {
                    sink.onProgress(progress.getStage(), progress.getDone(), progress.getTotal(), progress.getMessage());
                }
                R candidate = resultOf.apply(event);
                if (candidate != null) {
                    result = candidate;
                }
                if (userCancelled.get() || sink.isCancelled()) {
                    throw cancelled(operation);
                }
            }
            if (result == null) {
                throw new SamBridgeException(operation, Status.Code.INTERNAL,
                        "the server ended the stream without a result", null);
            }
            return result;
        } catch (StatusRuntimeException e) {
            if (userCancelled.get()) {
                throw cancelled(operation);
            }
            throw SamBridgeException.from(operation, e);
        } finally {
            context.detach(previous);
            context.cancel(null); // stops the server-side work if we left early
            if (watcher != null) {
                watcher.interrupt();
            }
        }
    }

    private static SamBridgeException cancelled(String operation) {
        return new SamBridgeException(operation, Status.Code.CANCELLED, "cancelled by the user", null);
    }

    /**
     * A daemon thread that polls the listener every 100 ms and cancels the call as soon as it asks
     * to (the blocking read then ends at once, not at the server's next event), and ticks the
     * listener about once a second.
     */
    private static Thread watch(Context.CancellableContext context, ProgressListener sink,
            AtomicBoolean userCancelled) {
        long started = System.nanoTime();
        Thread thread = new Thread(() -> {
            long lastTick = 0;
            while (!context.isCancelled() && !Thread.currentThread().isInterrupted()) {
                try {
                    if (sink.isCancelled()) {
                        userCancelled.set(true);
                        context.cancel(null);
                        return;
                    }
                    long elapsed = (System.nanoTime() - started) / 1_000_000;
                    if (elapsed - lastTick >= 1000) {
                        lastTick = elapsed;
                        sink.onTick(elapsed);
                    }
                    Thread.sleep(POLL_MS);
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    // a failing listener must not stop the watcher
                }
            }
        }, "sambridge-cancel-watcher");
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
