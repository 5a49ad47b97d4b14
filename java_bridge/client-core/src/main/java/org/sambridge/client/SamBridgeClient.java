package org.sambridge.client;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.sambridge.v1.AutoMethod;
import org.sambridge.v1.AutoSegment3DRequest;
import org.sambridge.v1.AutoSegmentRequest;
import org.sambridge.v1.AutoSegmentResult;
import org.sambridge.v1.AvailableModel;
import org.sambridge.v1.AutomaticServiceGrpc;
import org.sambridge.v1.Box;
import org.sambridge.v1.EmbedRequest;
import org.sambridge.v1.EmbedResult;
import org.sambridge.v1.EmbeddingKey;
import org.sambridge.v1.EmbeddingServiceGrpc;
import org.sambridge.v1.FrameAnnotation;
import org.sambridge.v1.ImageInfo;
import org.sambridge.v1.ImageRef;
import org.sambridge.v1.ImageServiceGrpc;
import org.sambridge.v1.ListAvailableModelsRequest;
import org.sambridge.v1.ListModelsRequest;
import org.sambridge.v1.LoadModelRequest;
import org.sambridge.v1.Mask;
import org.sambridge.v1.ModelInfo;
import org.sambridge.v1.ModelServiceGrpc;
import org.sambridge.v1.ObjectRequest;
import org.sambridge.v1.Point;
import org.sambridge.v1.PromptServiceGrpc;
import org.sambridge.v1.PropagateObjectsRequest;
import org.sambridge.v1.PropagateRequest;
import org.sambridge.v1.PropagationOptions;
import org.sambridge.v1.SegmentObjectsRequest;
import org.sambridge.v1.SegmentObjectsResponse;
import org.sambridge.v1.SegmentRequest;
import org.sambridge.v1.ServerInfo;
import org.sambridge.v1.ServerInfoRequest;
import org.sambridge.v1.SliceAnnotation;
import org.sambridge.v1.Tiling;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;
import org.sambridge.v1.TrackResult;
import org.sambridge.v1.TrackingServiceGrpc;
import org.sambridge.v1.VolumeResult;
import org.sambridge.v1.VolumeServiceGrpc;

/**
 * The SAMBridge client: connect once, upload images (skipped when the server
 * already has the pixels), then segment. Every call has a deadline (short calls:
 * the connect timeout; long streaming calls: {@link #setLongCallTimeoutSeconds}),
 * so nothing hangs, and every failure is a {@link SamBridgeException}.
 * Thread-safe for concurrent calls; close it when done.
 */
public final class SamBridgeClient implements AutoCloseable {
    private final String address;
    private final ManagedChannel channel;
    private final long timeoutMs;
    private final ImageUploader uploader;
    private final ModelServiceGrpc.ModelServiceBlockingStub models;
    private final EmbeddingServiceGrpc.EmbeddingServiceBlockingStub embeddings;
    private final PromptServiceGrpc.PromptServiceBlockingStub prompts;
    private final AutomaticServiceGrpc.AutomaticServiceBlockingStub automatic;
    private final VolumeServiceGrpc.VolumeServiceBlockingStub volumes;
    private final TrackingServiceGrpc.TrackingServiceBlockingStub tracking;
    private final ImageServiceGrpc.ImageServiceBlockingStub images;
    private final Channel authed;
    private volatile long longTimeoutMs;
    private volatile String model = "";
    private volatile String precision = "";
    private volatile Tiling tiling = Tiling.getDefaultInstance();

    private SamBridgeClient(String address, ManagedChannel channel, String token, double timeoutSeconds) {
        this.address = address;
        this.channel = channel;
        this.timeoutMs = Math.max(1L, Math.round(timeoutSeconds * 1000));
        this.longTimeoutMs = Math.max(timeoutMs, 3_600_000L);
        this.authed = ChannelFactory.withToken(channel, token);
        this.images = ImageServiceGrpc.newBlockingStub(authed);
        this.uploader = new ImageUploader(images, ImageServiceGrpc.newStub(authed));
        this.models = ModelServiceGrpc.newBlockingStub(authed);
        this.embeddings = EmbeddingServiceGrpc.newBlockingStub(authed);
        this.prompts = PromptServiceGrpc.newBlockingStub(authed);
        this.automatic = AutomaticServiceGrpc.newBlockingStub(authed);
        this.volumes = VolumeServiceGrpc.newBlockingStub(authed);
        this.tracking = TrackingServiceGrpc.newBlockingStub(authed);
    }

    /**
     * Connects and checks that the server answers (GetServerInfo) within the timeout.
     *
     * @param address "host:port"
     * @param token bearer token, or null/empty if the server has none
     * @param useTls use TLS
     * @param timeoutSeconds deadline of every short call, and of this check
     * @return a connected client
     * @throws SamBridgeException if the server cannot be reached or rejects the token
     */
    public static SamBridgeClient connect(String address, String token, boolean useTls, double timeoutSeconds) {
        SamBridgeClient client = new SamBridgeClient(address, ChannelFactory.open(address, useTls), token,
                timeoutSeconds);
        try {
            client.serverInfo();
        } catch (SamBridgeException e) {
            if (e.code() != Status.Code.UNIMPLEMENTED) {
                client.close();
                throw e;
            }
        }
        return client;
    }

    /** @return the address this client talks to */
    public String address() {
        return address;
    }

    /**
     * Deadline of long streaming calls and uploads (default: 1 hour, at least the short timeout).
     *
     * @param seconds the deadline
     */
    public void setLongCallTimeoutSeconds(double seconds) {
        this.longTimeoutMs = Math.max(1L, Math.round(seconds * 1000));
    }

    /**
     * @param name model to use ("" = the server's default)
     */
    public void setModel(String name) {
        this.model = name == null ? "" : name;
    }

    /** @return the model in use ("" = the server's default) */
    public String model() {
        return model;
    }

    /**
     * @param value "fp32", "bf16" or "" for the server default
     */
    public void setPrecision(String value) {
        this.precision = value == null ? "" : value;
    }

    /**
     * Tiles large images. Zero sizes leave the choice to the server: the model's native tiling
     * (none for SAM checkpoints; the default model's zoomed tiles); negative sizes force the
     * whole image into one SAM input.
     *
     * @param tileY tile height
     * @param tileX tile width
     * @param haloY halo rows on each side
     * @param haloX halo columns on each side
     */
    public void setTiling(int tileY, int tileX, int haloY, int haloX) {
        if (tileY < 0 || tileX < 0) {
            this.tiling = Tiling.newBuilder().setWholeImage(true).build();
        } else if (tileY == 0 || tileX == 0) {
            this.tiling = Tiling.getDefaultInstance();
        } else {
            this.tiling = Tiling.newBuilder().addTileShape(tileY).addTileShape(tileX)
                    .addHalo(haloY).addHalo(haloX).build();
        }
    }

    /**
     * The embedding key of an image under the current model/tiling/precision.
     *
     * @param imageId content id
     * @return the key
     */
    public EmbeddingKey key(String imageId) {
        return EmbeddingKey.newBuilder().setImageId(imageId).setModel(model).setTiling(tiling)
                .setPrecision(precision).build();
    }

    /** @return server version, capabilities and limits */
    public ServerInfo serverInfo() {
        try {
            return models.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                    .getServerInfo(ServerInfoRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("GetServerInfo (" + address + ")", e);
        }
    }

    /** @return the models the server serves */
    public List<ModelInfo> listModels() {
        try {
            return models.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                    .listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("ListModels", e);
        }
    }

    /** @return the models the server can serve by name (its registry), downloaded or not */
    public List<AvailableModel> listAvailableModels() {
        try {
            return models.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                    .listAvailableModels(ListAvailableModelsRequest.getDefaultInstance()).getModelsList();
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("ListAvailableModels", e);
        }
    }

    /**
     * Has the server serve a registry model by name, downloading it first if needed.
     *
     * @param name registry name, e.g. "vit_b_lm" (see {@link #listAvailableModels})
     * @param listener download progress in bytes (may be null)
     * @return the served model
     */
    public ModelInfo pullModel(String name, ProgressListener listener) {
        LoadModelRequest request = LoadModelRequest.newBuilder().setName(name).build();
        return StreamingCall.run("PullModel", () -> models.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS)
                .pullModel(request), e -> e.hasProgress() ? e.getProgress() : null,
                e -> e.hasModel() ? e.getModel() : null, listener);
    }

    /**
     * Has the server serve a checkpoint from its model root under a name.
     *
     * @param name name to serve it under
     * @param checkpointPath path relative to (or inside) the server's --model-root
     * @param modelType "vit_b", ... or "" to infer it from the weights
     * @return the served model
     */
    public ModelInfo loadModel(String name, String checkpointPath, String modelType) {
        LoadModelRequest request = LoadModelRequest.newBuilder().setName(name).setCheckpointPath(checkpointPath)
                .setModelType(modelType == null ? "" : modelType).build();
        try {
            return models.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS).loadModel(request);
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("LoadModel", e);
        }
    }

    /**
     * Finetuning jobs (start, watch, cancel, list), with this client's token and deadlines.
     *
     * @return the training service
     */
    public TrainingJobs training() {
        return new TrainingJobs(authed, timeoutMs, longTimeoutMs);
    }

    /**
     * Uploads pixels unless the server already has them (same content id). ImageJ images:
     * {@code upload(ImageJArrays.fromImagePlus(imp, "z"))} from the ImageJ module.
     *
     * @param array the pixels
     * @return the server's image info; its image_id addresses the image in later calls
     */
    public ImageInfo upload(PixelArray array) {
        return uploader.ensureUploaded(array, timeoutMs, longTimeoutMs);
    }

    /**
     * Forgets an image on the server.
     *
     * @param imageId content id
     */
    public void deleteImage(String imageId) {
        try {
            images.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
                    .deleteImage(ImageRef.newBuilder().setImageId(imageId).build());
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("DeleteImage", e);
        }
    }

    /**
     * Computes (or loads from cache) the embeddings of all slices.
     *
     * @param imageId content id
     * @param listener progress receiver (may be null)
     * @return tiles, slices, cache hits and seconds
     */
    public EmbedResult embed(String imageId, ProgressListener listener) {
        return embed(imageId, new int[0], listener);
    }

    /**
     * Computes (or loads from cache) the embeddings of some slices.
     *
     * @param imageId content id
     * @param indices slices to embed (empty = all)
     * @param listener progress receiver (may be null)
     * @return tiles, slices, cache hits and seconds
     */
    public EmbedResult embed(String imageId, int[] indices, ProgressListener listener) {
        EmbedRequest.Builder request = EmbedRequest.newBuilder().setKey(key(imageId));
        for (int i : indices) {
            request.addIndices(i);
        }
        return StreamingCall.run("Embed", () -> embeddings.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS)
                .embed(request.build()), e -> e.hasProgress() ? e.getProgress() : null,
                e -> e.hasResult() ? e.getResult() : null, listener);
    }

    /**
     * Segments one object from prompts.
     *
     * @param imageId content id
     * @param index slice/frame for stacks (ignored for 2D)
     * @param points point prompts (may be empty)
     * @param box box prompt or null
     * @param mask mask prompt or null
     * @param multimask return three masks instead of one
     * @return masks (best first) and scores
     */
    public SegmentResult segment(String imageId, int index, List<Point> points, Box box, Mask mask,
            boolean multimask) {
        SegmentRequest.Builder request = SegmentRequest.newBuilder().setKey(key(imageId)).setIndex(index)
                .addAllPoints(points == null ? Collections.emptyList() : points).setMultimask(multimask);
        if (box != null) {
            request.setBox(box);
        }
        if (mask != null) {
            request.setMask(mask);
        }
        return segment(request.build());
    }

    /**
     * Segments one object from a fully built request.
     *
     * @param request the request (its key decides image and model)
     * @return masks and scores
     */
    public SegmentResult segment(SegmentRequest request) {
        try {
            return new SegmentResult(prompts.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS)
                    .segment(request));
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("Segment", e);
        }
    }

    /**
     * Corrects one object through its server-side handle: the points are added to the object's
     * earlier points (a box replaces its box) and the object is decoded with all of them plus its
     * previous logits, as micro_sam's iterative prompting does.
     *
     * @param imageId content id
     * @param index slice/frame for stacks
     * @param objectId the object's handle (created on first use; private to this client)
     * @param points this call's clicks (may be empty)
     * @param box a new box, or null to keep the object's box
     * @return the object's mask, score and the window it was decoded in
     */
    public SegmentResult segmentObject(String imageId, int index, String objectId, List<Point> points, Box box) {
        SegmentRequest.Builder request = SegmentRequest.newBuilder().setKey(key(imageId)).setIndex(index)
                .addAllPoints(orEmpty(points)).setObjectId(objectId);
        if (box != null) {
            request.setBox(box);
        }
        return segment(request.build());
    }

    /**
     * Returns an object to its state before its last call.
     *
     * @param imageId content id the handle was used with
     * @param index slice/frame the handle was used with
     * @param objectId the object's handle
     * @return the restored mask (empty before the object's first call)
     */
    public SegmentResult undo(String imageId, int index, String objectId) {
        ObjectRequest request = ObjectRequest.newBuilder().setKey(key(imageId)).setIndex(index)
                .setObjectId(objectId).build();
        try {
            return new SegmentResult(prompts.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS).undo(request));
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("Undo", e);
        }
    }

    /**
     * Clears an object's prompts and logits on the server ({@link #undo} restores them).
     *
     * @param imageId content id the handle was used with
     * @param index slice/frame the handle was used with
     * @param objectId the object's handle
     */
    public void resetObject(String imageId, int index, String objectId) {
        ObjectRequest request = ObjectRequest.newBuilder().setKey(key(imageId)).setIndex(index)
                .setObjectId(objectId).build();
        try {
            prompts.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS).resetObject(request);
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("ResetObject", e);
        }
    }

    /**
     * Segments many objects at once: each positive point and each box is one object.
     *
     * @param imageId content id
     * @param index slice/frame for stacks
     * @param positives one object per point
     * @param boxes one object per box
     * @param negatives background points shared by all objects
     * @return "yx" labels (points first, then boxes) and per-object scores
     */
    public LabelResult segmentObjects(String imageId, int index, List<Point> positives, List<Box> boxes,
            List<Point> negatives) {
        SegmentObjectsRequest request = SegmentObjectsRequest.newBuilder().setKey(key(imageId)).setIndex(index)
                .addAllPoints(orEmpty(positives)).addAllBoxes(orEmpty(boxes))
                .addAllNegativePoints(orEmpty(negatives)).build();
        try {
            SegmentObjectsResponse response = prompts.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS)
                    .segmentObjects(request);
            return new LabelResult(MaskCodec.decodeLabels(response.getLabels()), response.getObjectsList(), response);
        } catch (StatusRuntimeException e) {
            throw SamBridgeException.from("SegmentObjects", e);
        }
    }

    /**
     * Automatic instance segmentation with the server's default parameters.
     *
     * @param imageId content id
     * @param method AIS, AMG or AUTO_METHOD_UNSPECIFIED (AIS if the model has a decoder)
     * @param listener progress receiver (may be null)
     * @return labels with the image's spatial axes
     */
    public LabelResult autoSegment(String imageId, AutoMethod method, ProgressListener listener) {
        return autoSegment(AutoSegmentRequest.newBuilder().setKey(key(imageId)).setMethod(method).build(), listener);
    }

    /**
     * Automatic instance segmentation from a fully built request (AIS/AMG parameters, slices).
     *
     * @param request the request
     * @param listener progress receiver (may be null)
     * @return labels and per-object info; raw() is the AutoSegmentResult
     */
    public LabelResult autoSegment(AutoSegmentRequest request, ProgressListener listener) {
        AutoSegmentResult result = StreamingCall.run("AutoSegment",
                () -> automatic.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS).autoSegment(request),
                e -> e.hasProgress() ? e.getProgress() : null, e -> e.hasResult() ? e.getResult() : null, listener);
        return new LabelResult(MaskCodec.decodeLabels(result.getLabels()), result.getObjectsList(), result);
    }

    /**
     * Propagates one object through a z stack from annotated slices, with the model's own method.
     *
     * @param imageId content id of a "zyx" image
     * @param annotations masks or prompts on one or more slices
     * @param options projection mode, thresholds (null = defaults)
     * @param listener progress receiver (may be null)
     * @return "zyx" labels (the object is 1); raw() is the VolumeResult with the z range
     */
    public LabelResult propagate(String imageId, List<SliceAnnotation> annotations, PropagationOptions options,
            ProgressListener listener) {
        return propagate(imageId, annotations, options, null, listener);
    }

    /**
     * Propagates one object through a z stack from annotated slices.
     *
     * @param imageId content id of a "zyx" image
     * @param annotations masks or prompts on one or more slices
     * @param options projection mode, thresholds (null = defaults)
     * @param method "prompts" (micro_sam's slice-by-slice), "memory" (SAM2's memory propagation), or
     *     null / "" / "default" for the model's own (see {@link PropagationMethod}); overrides
     *     {@code options.method} unless default
     * @param listener progress receiver (may be null)
     * @return "zyx" labels (the object is 1); raw() is the VolumeResult with the z range
     */
    public LabelResult propagate(String imageId, List<SliceAnnotation> annotations, PropagationOptions options,
            String method, ProgressListener listener) {
        PropagateRequest request = PropagationMethod.propagateRequest(key(imageId), annotations, options, method);
        return volume("Propagate", () -> volumes.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS)
                .propagate(request), listener);
    }

    /**
     * Propagates many objects (a label image on one slice) through a z stack, with the model's own method.
     *
     * @param imageId content id of a "zyx" image
     * @param z the slice the labels belong to
     * @param labels a 2D label image
     * @param options projection mode, thresholds (null = defaults)
     * @param listener progress receiver (may be null)
     * @return "zyx" labels
     */
    public LabelResult propagateObjects(String imageId, int z, LabelImage labels, PropagationOptions options,
            ProgressListener listener) {
        return propagateObjects(imageId, z, labels, options, null, listener);
    }

    /**
     * Propagates many objects (a label image on one slice) through a z stack.
     *
     * @param imageId content id of a "zyx" image
     * @param z the slice the labels belong to
     * @param labels a 2D label image
     * @param options projection mode, thresholds (null = defaults)
     * @param method "prompts", "memory", or null / "" / "default" for the model's own (see
     *     {@link PropagationMethod}); overrides {@code options.method} unless default
     * @param listener progress receiver (may be null)
     * @return "zyx" labels
     */
    public LabelResult propagateObjects(String imageId, int z, LabelImage labels, PropagationOptions options,
            String method, ProgressListener listener) {
        PropagateObjectsRequest request = PropagationMethod.propagateObjectsRequest(key(imageId), z, labels, options,
                method);
        return volume("PropagateObjects", () -> volumes.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS)
                .propagateObjects(request), listener);
    }

    /**
     * Automatic 3D segmentation: per-slice AIS/AMG merged across slices into 3D objects.
     *
     * @param request the request (its key is replaced by this client's key of the request's image)
     * @param listener progress receiver (may be null)
     * @return "zyx" labels
     */
    public LabelResult autoSegment3D(AutoSegment3DRequest request, ProgressListener listener) {
        AutoSegment3DRequest keyed = request.toBuilder().setKey(key(request.getKey().getImageId())).build();
        return volume("AutoSegment3D", () -> volumes.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS)
                .autoSegment3D(keyed), listener);
    }

    /**
     * Automatic tracking of a "tyx" time series with server defaults.
     *
     * @param imageId content id of a "tyx" image
     * @param listener progress receiver (may be null)
     * @return "tyx" labels, one id per track; raw() is the TrackResult (lineage)
     */
    public LabelResult track(String imageId, ProgressListener listener) {
        return track(TrackRequest.newBuilder().setKey(key(imageId)).setMethod(TrackMethod.AUTO).build(), listener);
    }

    /**
     * Interactive tracking: follows one annotated object through a "tyx" time series.
     *
     * @param imageId content id of a "tyx" image
     * @param start the object on its frame (mask, points and/or box; its {@code t} is the frame)
     * @param iouThreshold stop when IoU with the shifted previous mask drops below this (&lt;= 0: server default)
     * @param backward also follow the object back in time
     * @param method "prompts" (frame by frame from the shifted previous mask), "memory" (SAM2's
     *     memory propagation), or null / "" / "default" for the model's own; sent as
     *     {@code follow_method} (see {@link PropagationMethod})
     * @param listener progress receiver (may be null)
     * @return "tyx" labels (the object's track); raw() is the TrackResult (stop reasons)
     */
    public LabelResult follow(String imageId, FrameAnnotation start, double iouThreshold, boolean backward,
            String method, ProgressListener listener) {
        return track(PropagationMethod.followRequest(key(imageId), start, iouThreshold, backward, method), listener);
    }

    /**
     * Tracking from a fully built request (interactive tracking, costs, divisions).
     *
     * @param request the request
     * @param listener progress receiver (may be null)
     * @return "tyx" labels; raw() is the TrackResult
     */
    public LabelResult track(TrackRequest request, ProgressListener listener) {
        TrackResult result = StreamingCall.run("Track",
                () -> tracking.withDeadlineAfter(longTimeoutMs, TimeUnit.MILLISECONDS).track(request),
                e -> e.hasProgress() ? e.getProgress() : null, e -> e.hasResult() ? e.getResult() : null, listener);
        return new LabelResult(MaskCodec.decodeLabels(result.getLabels()), Collections.emptyList(), result);
    }

    /** Closes the connection (waits at most 5 s for calls in flight). */
    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private LabelResult volume(String operation,
            java.util.function.Supplier<java.util.Iterator<org.sambridge.v1.VolumeEvent>> start,
            ProgressListener listener) {
        VolumeResult result = StreamingCall.run(operation, start, e -> e.hasProgress() ? e.getProgress() : null,
                e -> e.hasResult() ? e.getResult() : null, listener);
        return new LabelResult(MaskCodec.decodeLabels(result.getLabels()), result.getObjectsList(), result);
    }

    private static <T> List<T> orEmpty(List<T> list) {
        return list == null ? Collections.emptyList() : list;
    }
}
