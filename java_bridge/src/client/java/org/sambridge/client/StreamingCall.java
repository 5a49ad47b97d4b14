package org.sambridge.client;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.function.Function;
import java.util.function.Supplier;
import org.sambridge.v1.Progress;

/**
 * Runs a server-streaming call (Progress events, then one result) to completion:
 * forwards progress, returns the result, cancels the call on the server when the
 * listener asks to, and turns gRPC failures into {@link SamBridgeException}s.
 */
final class StreamingCall {
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
                if (sink.isCancelled()) {
                    throw new SamBridgeException(operation, Status.Code.CANCELLED, "cancelled by the user", null);
                }
            }
            if (result == null) {
                throw new SamBridgeException(operation, Status.Code.INTERNAL,
                        "the server ended the stream without a result", null);
            }
            return result;
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from(operation, e);
        } finally {
            context.detach(previous);
            context.cancel(null); // stops the server-side work if we left early
        }
    }
}
