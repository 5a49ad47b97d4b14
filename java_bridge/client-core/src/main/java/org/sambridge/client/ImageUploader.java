package org.sambridge.client;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.sambridge.v1.ImageInfo;
import org.sambridge.v1.ImageRef;
import org.sambridge.v1.ImageServiceGrpc;
import org.sambridge.v1.UploadChunk;
import org.sambridge.v1.UploadHeader;

/**
 * Uploads images by content id: asks the server first (GetImage) and streams the
 * raw bytes in chunks only when it does not have them, respecting flow control.
 */
final class ImageUploader {
    /** Bytes per upload chunk (the protocol recommends 1-4 MiB). */
    static final int CHUNK_BYTES = 2 * 1024 * 1024;

    private final ImageServiceGrpc.ImageServiceBlockingStub blocking;
    private final ImageServiceGrpc.ImageServiceStub async;

    ImageUploader(ImageServiceGrpc.ImageServiceBlockingStub blocking, ImageServiceGrpc.ImageServiceStub async) {
        this.blocking = blocking;
        this.async = async;
    }

    /**
     * @param array the pixels
     * @param unaryTimeoutMs deadline of the GetImage check
     * @param uploadTimeoutMs deadline of the whole upload
     * @return the server's image info (already_present true if nothing was sent)
     */
    ImageInfo ensureUploaded(PixelArray array, long unaryTimeoutMs, long uploadTimeoutMs) {
        String id = array.contentId();
        try {
            ImageInfo info = blocking.withDeadlineAfter(unaryTimeoutMs, TimeUnit.MILLISECONDS)
                    .getImage(ImageRef.newBuilder().setImageId(id).build());
            return info.toBuilder().setAlreadyPresent(true).build();
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
                throw SamBridgeException.from("GetImage", e);
            }
        }
        return upload(array, uploadTimeoutMs);
    }

    /**
     * Streams the pixels unconditionally.
     *
     * @param array the pixels
     * @param timeoutMs deadline of the whole upload
     * @return the server's image info
     */
    ImageInfo upload(PixelArray array, long timeoutMs) {
        CompletableFuture<ImageInfo> done = new CompletableFuture<>();
        Object readyLock = new Object();
        UploadObserver observer = new UploadObserver(done, readyLock);
        async.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS).upload(observer);
        ClientCallStreamObserver<UploadChunk> requests = observer.requests;
        try {
            UploadHeader.Builder header = UploadHeader.newBuilder().setDtype(array.dtype()).setAxes(array.axes())
                    .setExpectedImageId(array.contentId());
            for (long s : array.shape()) {
                header.addShape(s);
            }
            byte[] data = array.data();
            int offset = 0;
            boolean first = true;
            while (first || offset < data.length) {
                waitUntilReady(requests, readyLock, done);
                int n = Math.min(CHUNK_BYTES, data.length - offset);
                UploadChunk.Builder chunk = UploadChunk.newBuilder()
                        .setData(UnsafeByteOperations.unsafeWrap(data, offset, n));
                if (first) {
                    chunk.setHeader(header);
                }
                requests.onNext(chunk.build());
                offset += n;
                first = false;
            }
            requests.onCompleted();
        } catch (RuntimeException e) {
            requests.cancel("upload aborted", e);
            if (!done.isDone()) {
                throw e;
            }
        }
        return await(done, timeoutMs);
    }

    private static void waitUntilReady(ClientCallStreamObserver<UploadChunk> requests, Object lock,
            CompletableFuture<ImageInfo> done) {
        synchronized (lock) {
            while (!requests.isReady() && !done.isDone()) {
                try {
                    lock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SamBridgeException("Upload", Status.Code.CANCELLED, "interrupted", e);
                }
            }
        }
        if (done.isDone()) { // the server answered (an error) before we finished
            throw new IllegalStateException("server closed the upload early");
        }
    }

    private static ImageInfo await(CompletableFuture<ImageInfo> done, long timeoutMs) {
        try {
            return done.get(timeoutMs + 5000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof StatusRuntimeException) {
                throw SamBridgeException.from("Upload", (StatusRuntimeException) cause);
            }
            throw new SamBridgeException("Upload", Status.Code.UNKNOWN, String.valueOf(cause), cause);
        } catch (TimeoutException e) {
            throw new SamBridgeException("Upload", Status.Code.DEADLINE_EXCEEDED, "no answer", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SamBridgeException("Upload", Status.Code.CANCELLED, "interrupted", e);
        }
    }

    /** Response side of the upload; also hands out the request stream for flow control. */
    private static final class UploadObserver implements ClientResponseObserver<UploadChunk, ImageInfo> {
        private final CompletableFuture<ImageInfo> done;
        private final Object readyLock;
        private ClientCallStreamObserver<UploadChunk> requests;
        private ImageInfo info;

        UploadObserver(CompletableFuture<ImageInfo> done, Object readyLock) {
            this.done = done;
            this.readyLock = readyLock;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<UploadChunk> stream) {
            requests = stream;
            stream.setOnReadyHandler(() -> {
                synchronized (readyLock) {
                    readyLock.notifyAll();
                }
            });
        }

        @Override
        public void onNext(ImageInfo value) {
            info = value;
        }

        @Override
        public void onError(Throwable t) {
            done.completeExceptionally(t);
            synchronized (readyLock) {
                readyLock.notifyAll();
            }
        }

        @Override
        public void onCompleted() {
            done.complete(info);
        }
    }
}
