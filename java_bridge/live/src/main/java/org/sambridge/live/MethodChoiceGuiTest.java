package org.sambridge.live;

import ij.IJ;
import ij.ImageJ;
import ij.ImagePlus;
import ij.gui.PointRoi;
import ij.plugin.frame.RoiManager;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.sambridge.client.LabelImage;
import org.sambridge.client.MaskCodec;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.BridgeSession;
import org.sambridge.v1.ImageInfo;
import org.sambridge.v1.ImageRef;
import org.sambridge.v1.ImageServiceGrpc;
import org.sambridge.v1.NDArray;
import org.sambridge.v1.ProjectionMode;
import org.sambridge.v1.PropagateObjectsRequest;
import org.sambridge.v1.PropagateRequest;
import org.sambridge.v1.Track;
import org.sambridge.v1.TrackEvent;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;
import org.sambridge.v1.TrackResult;
import org.sambridge.v1.TrackingServiceGrpc;
import org.sambridge.v1.VolumeEvent;
import org.sambridge.v1.VolumeResult;
import org.sambridge.v1.VolumeServiceGrpc;

/**
 * The "method" choice of Propagate in 3D, Propagate all objects and Follow object, run as macro
 * commands (IJ.run, the plugin from {@code -Dplugins.dir}) in real ImageJ dialogs (under Xvfb):
 * {@code method=memory} / {@code method=prompts} reach {@code PropagationOptions.method} and
 * {@code TrackRequest.follow_method}, a macro without {@code method=} sends none. The server is a
 * local gRPC stand-in that records the requests and answers one object on every plane (no model
 * needed). Prints OK/FAIL lines and "ALL OK"; exit code 0 when all pass.
 *
 * <p>Usage: {@code xvfb-run -a java -Dplugins.dir=DIR_WITH_plugins/SAMBridge_.jar -cp ... MethodChoiceGuiTest}
 */
public final class MethodChoiceGuiTest {
    private static final AtomicReference<PropagateRequest> PROPAGATED = new AtomicReference<>();
    private static final AtomicReference<PropagateObjectsRequest> PROPAGATED_OBJECTS = new AtomicReference<>();
    private static final AtomicReference<TrackRequest> TRACKED = new AtomicReference<>();
    private static final List<String> PROBLEMS = new ArrayList<>();

    private MethodChoiceGuiTest() {
    }

    private static NDArray square(int planes) {
        int[] values = new int[planes * 16 * 16];
        for (int p = 0; p < planes; p++) {
            for (int y = 4; y < 10; y++) {
                for (int x = 4; x < 10; x++) {
                    values[p * 256 + y * 16 + x] = 1;
                }
            }
        }
        return MaskCodec.encodeLabels(new LabelImage(values, planes, 16, 16, "zyx"), false);
    }

    private static void check(boolean ok, String what) {
        System.out.println((ok ? "OK   " : "FAIL ") + what);
        if (!ok) {
            PROBLEMS.add(what);
        }
    }

    private static int roiCount() {
        return RoiManager.getInstance() == null ? 0 : RoiManager.getInstance().getCount();
    }

    private static Server standIn() throws Exception {
        return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new ImageServiceGrpc.ImageServiceImplBase() {
                    @Override
                    public void getImage(ImageRef ref, StreamObserver<ImageInfo> out) { // "already uploaded"
                        out.onNext(ImageInfo.newBuilder().setImageId(ref.getImageId()).build());
                        out.onCompleted();
                    }
                })
                .addService(new VolumeServiceGrpc.VolumeServiceImplBase() {
                    @Override
                    public void propagate(PropagateRequest request, StreamObserver<VolumeEvent> out) {
                        PROPAGATED.set(request);
                        out.onNext(VolumeEvent.newBuilder().setResult(VolumeResult.newBuilder().setLabels(square(3))
                                .setZEnd(2)).build());
                        out.onCompleted();
                    }

                    @Override
                    public void propagateObjects(PropagateObjectsRequest request, StreamObserver<VolumeEvent> out) {
                        PROPAGATED_OBJECTS.set(request);
                        out.onNext(VolumeEvent.newBuilder().setResult(VolumeResult.newBuilder().setLabels(square(3)))
                                .build());
                        out.onCompleted();
                    }
                })
                .addService(new TrackingServiceGrpc.TrackingServiceImplBase() {
                    @Override
                    public void track(TrackRequest request, StreamObserver<TrackEvent> out) {
                        TRACKED.set(request);
                        out.onNext(TrackEvent.newBuilder().setResult(TrackResult.newBuilder().setLabels(square(3))
                                .addTracks(Track.newBuilder().setId(1).setEnd(2)).putStopReasons(1, "last frame"))
                                .build());
                        out.onCompleted();
                    }
                }).build().start();
    }

    /**
     * @param args none
     * @throws Exception on unexpected failures
     */
    public static void main(String[] args) throws Exception {
        Thread.currentThread().setName("Run$_MethodChoiceGuiTest");
        new ImageJ(ImageJ.NO_SHOW);
        Server server = standIn();
        try {
            BridgeSession.set(SamBridgeClient.connect("127.0.0.1:" + server.getPort(), "", false, 10));

            ImagePlus zStack = IJ.createImage("zs", "8-bit ramp", 16, 16, 3);
            zStack.show();
            zStack.setSlice(2);
            zStack.setRoi(new PointRoi(6, 6));
            IJ.run(zStack, "Propagate in 3D", "projection=single_point iou_threshold=0.5 method=memory");
            PropagateRequest propagated = PROPAGATED.get();
            check(propagated != null && "memory".equals(propagated.getOptions().getMethod())
                    && propagated.getAnnotations(0).getZ() == 1, "Propagate in 3D method=memory: " + propagated);
            zStack.setRoi(new PointRoi(6, 6));
            IJ.run(zStack, "Propagate in 3D", "projection=single_point iou_threshold=0.5");
            check(PROPAGATED.get() != propagated && "".equals(PROPAGATED.get().getOptions().getMethod()),
                    "Propagate in 3D without method= sends none");
            IJ.run(zStack, "Propagate all objects", "labels=[zs-SAM-labels] projection=box iou_threshold=0.4 method=prompts");
            PropagateObjectsRequest objects = PROPAGATED_OBJECTS.get();
            check(objects != null && "prompts".equals(objects.getOptions().getMethod())
                    && objects.getOptions().getProjection() == ProjectionMode.BOX,
                    "Propagate all objects method=prompts: " + (objects == null ? null : objects.getOptions()));

            ImagePlus series = IJ.createImage("ts", "8-bit ramp", 16, 16, 1, 1, 3);
            series.show();
            series.setT(2);
            series.setRoi(new PointRoi(6, 6));
            int before = roiCount();
            IJ.run(series, "Follow object", "iou_threshold=0.6 backward method=memory");
            TrackRequest followed = TRACKED.get();
            check(followed != null && followed.getMethod() == TrackMethod.INTERACTIVE
                    && "memory".equals(followed.getFollowMethod()) && followed.getBackward()
                    && followed.getStart().getT() == 1 && Math.abs(followed.getIouThreshold() - 0.6) < 1e-9,
                    "Follow object method=memory: " + followed);
            check(roiCount() - before == 3, "Follow object added " + (roiCount() - before) + " ROIs (want 3, one per frame)");
            series.setRoi(new PointRoi(6, 6));
            IJ.run(series, "Follow object", "iou_threshold=0.5");
            check(TRACKED.get() != followed && "".equals(TRACKED.get().getFollowMethod()) && !TRACKED.get().getBackward(),
                    "Follow object without method= sends no follow_method");
        } catch (RuntimeException e) {
            PROBLEMS.add(e.toString());
            e.printStackTrace();
        } finally {
            BridgeSession.disconnect();
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        System.out.println(PROBLEMS.isEmpty() ? "ALL OK" : PROBLEMS.size() + " FAILED: " + PROBLEMS);
        System.exit(PROBLEMS.isEmpty() ? 0 : 1);
    }
}
