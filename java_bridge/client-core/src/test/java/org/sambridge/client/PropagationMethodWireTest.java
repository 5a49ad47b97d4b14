package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.sambridge.v1.FrameAnnotation;
import org.sambridge.v1.NDArray;
import org.sambridge.v1.Point;
import org.sambridge.v1.ProjectionMode;
import org.sambridge.v1.PropagateObjectsRequest;
import org.sambridge.v1.PropagateRequest;
import org.sambridge.v1.PropagationOptions;
import org.sambridge.v1.SliceAnnotation;
import org.sambridge.v1.TrackEvent;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;
import org.sambridge.v1.TrackResult;
import org.sambridge.v1.TrackingServiceGrpc;
import org.sambridge.v1.VolumeEvent;
import org.sambridge.v1.VolumeResult;
import org.sambridge.v1.VolumeServiceGrpc;

/**
 * SamBridgeClient's propagate / propagateObjects / follow put the method on the wire (a local
 * gRPC server records the requests); the old signatures send none.
 */
public class PropagationMethodWireTest {
    private static final NDArray LABELS = MaskCodec.encodeLabels(
            new LabelImage(new int[] {0, 1, 0, 1}, 2, 1, 2, "zyx"), false);
    private final AtomicReference<PropagateRequest> propagated = new AtomicReference<>();
    private final AtomicReference<PropagateObjectsRequest> propagatedObjects = new AtomicReference<>();
    private final AtomicReference<TrackRequest> tracked = new AtomicReference<>();
    private Server server;
    private SamBridgeClient client;

    @Before
    public void start() throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new VolumeServiceGrpc.VolumeServiceImplBase() {
                    @Override
                    public void propagate(PropagateRequest request, StreamObserver<VolumeEvent> events) {
                        propagated.set(request);
                        answer(events);
                    }

                    @Override
                    public void propagateObjects(PropagateObjectsRequest request, StreamObserver<VolumeEvent> events) {
                        propagatedObjects.set(request);
                        answer(events);
                    }
                })
                .addService(new TrackingServiceGrpc.TrackingServiceImplBase() {
                    @Override
                    public void track(TrackRequest request, StreamObserver<TrackEvent> events) {
                        tracked.set(request);
                        events.onNext(TrackEvent.newBuilder().setResult(TrackResult.newBuilder().setLabels(LABELS))
                                .build());
                        events.onCompleted();
                    }
                }).build().start();
        client = SamBridgeClient.connect("127.0.0.1:" + server.getPort(), "", false, 10); // no ServerInfo: tolerated
    }

    private static void answer(StreamObserver<VolumeEvent> events) {
        events.onNext(VolumeEvent.newBuilder().setResult(VolumeResult.newBuilder().setLabels(LABELS)).build());
        events.onCompleted();
    }

    @After
    public void stop() throws Exception {
        client.close();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    public void propagateSendsTheMethod() {
        List<SliceAnnotation> one = Collections.singletonList(SliceAnnotation.newBuilder().setZ(1)
                .addPoints(Point.newBuilder().setX(1).setY(0).setLabel(1)).build());
        PropagationOptions options = PropagationOptions.newBuilder().setProjection(ProjectionMode.BOX).build();
        LabelResult result = client.propagate("sha1:abc", one, options, "memory", null);
        assertEquals(2, result.labels().depth());
        assertEquals("memory", propagated.get().getOptions().getMethod());
        assertEquals(ProjectionMode.BOX, propagated.get().getOptions().getProjection());
        assertEquals("sha1:abc", propagated.get().getKey().getImageId());
        client.propagate("sha1:abc", one, options, null); // the old signature: the model's own method
        assertEquals("", propagated.get().getOptions().getMethod());
        client.propagate("sha1:abc", one, null, "prompts", null);
        assertEquals("prompts", propagated.get().getOptions().getMethod());
    }

    @Test
    public void propagateObjectsSendsTheMethod() {
        LabelImage seeds = new LabelImage(new int[] {0, 3}, 1, 1, 2, "yx");
        client.propagateObjects("sha1:abc", 1, seeds, null, "memory", null);
        assertEquals("memory", propagatedObjects.get().getOptions().getMethod());
        assertEquals(1, propagatedObjects.get().getZ());
        client.propagateObjects("sha1:abc", 1, seeds, null, null);
        assertFalse(propagatedObjects.get().hasOptions());
    }

    @Test
    public void followSendsTheFollowMethod() {
        FrameAnnotation start = FrameAnnotation.newBuilder().setT(1)
                .addPoints(Point.newBuilder().setX(1).setY(0).setLabel(1)).build();
        client.follow("sha1:abc", start, 0.6, true, "memory", null);
        TrackRequest request = tracked.get();
        assertEquals(TrackMethod.INTERACTIVE, request.getMethod());
        assertEquals("memory", request.getFollowMethod());
        assertEquals(start, request.getStart());
        assertTrue(request.getBackward());
        assertEquals(0.6, request.getIouThreshold(), 0);
        client.follow("sha1:abc", start, 0, false, "default", null);
        assertEquals("", tracked.get().getFollowMethod());
    }
}
