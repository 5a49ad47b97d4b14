package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.sambridge.v1.EmbedEvent;
import org.sambridge.v1.EmbedRequest;
import org.sambridge.v1.EmbedResult;
import org.sambridge.v1.EmbeddingServiceGrpc;
import org.sambridge.v1.Progress;

/**
 * Esc while the server is silent (e.g. embedding the first of 8 tiles): the call is cancelled
 * within a second, on the server too, not at the server's next progress event.
 */
public class StreamingCancelTest {
    private final AtomicLong serverCancelledAt = new AtomicLong();
    private final CountDownLatch serverCancelled = new CountDownLatch(1);
    private volatile long resultAfterMs = -1; // -1: never answer
    private Server server;
    private ManagedChannel channel;

    @Before
    public void start() throws Exception {
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(new EmbeddingServiceGrpc.EmbeddingServiceImplBase() {
                    @Override
                    public void embed(EmbedRequest request, StreamObserver<EmbedEvent> events) {
                        ServerCallStreamObserver<EmbedEvent> call = (ServerCallStreamObserver<EmbedEvent>) events;
                        call.setOnCancelHandler(() -> {
                            serverCancelledAt.set(System.nanoTime());
                            serverCancelled.countDown();
                        });
                        events.onNext(EmbedEvent.newBuilder().setProgress(Progress.newBuilder()
                                .setStage("embedding").setDone(0).setTotal(8)).build());
                        if (resultAfterMs >= 0) {
                            new Thread(() -> {
                                try {
                                    Thread.sleep(resultAfterMs);
                                } catch (InterruptedException e) {
                                    return;
                                }
                                events.onNext(EmbedEvent.newBuilder().setResult(EmbedResult.newBuilder()
                                        .setNTiles(8)).build());
                                events.onCompleted();
                            }).start();
                        }
                    }
                }).build().start();
        channel = InProcessChannelBuilder.forName(name).build();
    }

    @After
    public void stop() throws Exception {
        channel.shutdownNow();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private EmbedResult call(ProgressListener listener) {
        EmbeddingServiceGrpc.EmbeddingServiceBlockingStub stub = EmbeddingServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS);
        return StreamingCall.run("Embed", () -> stub.embed(EmbedRequest.getDefaultInstance()),
                e -> e.hasProgress() ? e.getProgress() : null, e -> e.hasResult() ? e.getResult() : null, listener);
    }

    @Test
    public void escapeCancelsASilentCallWithinASecond() throws Exception {
        long start = System.nanoTime();
        AtomicLong pressedAt = new AtomicLong();
        ProgressListener listener = new ProgressListener() {
            @Override
            public void onProgress(String stage, long done, long total, String message) {
            }

            @Override
            public boolean isCancelled() {
                if (System.nanoTime() - start > 300_000_000L) {
                    pressedAt.compareAndSet(0, System.nanoTime());
                    return true;
                }
                return false;
            }
        };
        try {
            call(listener);
            fail("not cancelled");
        } catch (SamBridgeException e) {
            assertEquals(Status.Code.CANCELLED, e.code());
            assertTrue(e.getMessage(), e.getMessage().contains("cancelled by the user"));
        }
        long returnedMs = (System.nanoTime() - pressedAt.get()) / 1_000_000;
        assertTrue("client returned " + returnedMs + " ms after Esc", returnedMs < 1000);
        assertTrue("the server never saw the cancellation", serverCancelled.await(1, TimeUnit.SECONDS));
        long serverMs = (serverCancelledAt.get() - pressedAt.get()) / 1_000_000;
        assertTrue("server cancelled " + serverMs + " ms after Esc", serverMs < 1000);
    }

    @Test
    public void silentCallsTickTheListener() {
        resultAfterMs = 1300;
        AtomicInteger ticks = new AtomicInteger();
        AtomicInteger progress = new AtomicInteger();
        EmbedResult result = call(new ProgressListener() {
            @Override
            public void onProgress(String stage, long done, long total, String message) {
                progress.incrementAndGet();
            }

            @Override
            public void onTick(long elapsedMs) {
                ticks.incrementAndGet();
            }
        });
        assertEquals(8, result.getNTiles());
        assertEquals(1, progress.get());
        assertTrue("no tick while the server was silent", ticks.get() >= 1);
    }
}
