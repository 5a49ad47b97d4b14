package org.sambridge.client;

import java.util.List;
import java.util.Locale;
import org.sambridge.v1.EmbeddingKey;
import org.sambridge.v1.FrameAnnotation;
import org.sambridge.v1.PropagateObjectsRequest;
import org.sambridge.v1.PropagateRequest;
import org.sambridge.v1.PropagationOptions;
import org.sambridge.v1.SliceAnnotation;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;

/**
 * The propagation method of volumes ({@code PropagationOptions.method}) and of interactive
 * tracking ({@code TrackRequest.follow_method}): {@code "prompts"} is micro_sam's slice-by-slice
 * (or frame-by-frame) prompting from the previous mask (SAM1-family models), {@code "memory"} is
 * SAM2's memory propagation (SAM2 models). Empty (or {@code "default"}, or null) sends nothing, so
 * the server uses the model family's own method; the wrong family gets FAILED_PRECONDITION
 * naming the model. The request builders here are what {@link SamBridgeClient} sends.
 */
public final class PropagationMethod {
    /** The choices of dialogs and scripts; "default" is sent as the empty string. */
    public static final String[] CHOICES = {"default", "prompts", "memory"};
    /** micro_sam's slice-by-slice prompting (SAM1-family models' default). */
    public static final String PROMPTS = "prompts";
    /** SAM2's memory propagation (SAM2 models' default). */
    public static final String MEMORY = "memory";

    private PropagationMethod() {
    }

    /**
     * @param method "prompts", "memory" (any case, surrounding blanks ignored), or null / "" /
     *     "default" / "auto" for the model's own
     * @return the wire value: "prompts", "memory" or ""
     * @throws IllegalArgumentException for anything else
     */
    public static String wire(String method) {
        String m = method == null ? "" : method.trim().toLowerCase(Locale.ROOT);
        if (m.isEmpty() || m.equals("default") || m.equals("auto")) {
            return "";
        }
        if (m.equals(PROMPTS) || m.equals(MEMORY)) {
            return m;
        }
        throw new IllegalArgumentException("method must be default, prompts or memory, got '" + method + "'");
    }

    /**
     * @param options propagation options (null = server defaults)
     * @param method see {@link #wire}; null or default leaves {@code options} as they are
     * @return options carrying the method (null when both are null / default)
     */
    public static PropagationOptions apply(PropagationOptions options, String method) {
        String wire = wire(method);
        if (wire.isEmpty()) {
            return options;
        }
        PropagationOptions.Builder builder = options == null ? PropagationOptions.newBuilder() : options.toBuilder();
        return builder.setMethod(wire).build();
    }

    /**
     * @param key the embedding key of a "zyx" image
     * @param annotations masks or prompts on one or more slices
     * @param options projection mode, thresholds (null = defaults)
     * @param method see {@link #wire}
     * @return the Propagate request
     */
    public static PropagateRequest propagateRequest(EmbeddingKey key, List<SliceAnnotation> annotations,
            PropagationOptions options, String method) {
        PropagateRequest.Builder request = PropagateRequest.newBuilder().setKey(key).addAllAnnotations(annotations);
        PropagationOptions withMethod = apply(options, method);
        if (withMethod != null) {
            request.setOptions(withMethod);
        }
        return request.build();
    }

    /**
     * @param key the embedding key of a "zyx" image
     * @param z the slice the labels belong to
     * @param labels a 2D label image
     * @param options projection mode, thresholds (null = defaults)
     * @param method see {@link #wire}
     * @return the PropagateObjects request
     */
    public static PropagateObjectsRequest propagateObjectsRequest(EmbeddingKey key, int z, LabelImage labels,
            PropagationOptions options, String method) {
        PropagateObjectsRequest.Builder request = PropagateObjectsRequest.newBuilder().setKey(key).setZ(z)
                .setLabels(MaskCodec.encodeLabels(labels, true));
        PropagationOptions withMethod = apply(options, method);
        if (withMethod != null) {
            request.setOptions(withMethod);
        }
        return request.build();
    }

    /**
     * An interactive tracking request: one annotated object followed through the frames.
     *
     * @param key the embedding key of a "tyx" image
     * @param start the object on its frame (mask, points and/or box)
     * @param iouThreshold stop when IoU with the shifted previous mask drops below this (&lt;= 0: server default)
     * @param backward also follow the object back in time
     * @param method see {@link #wire}; sent as {@code follow_method}
     * @return the Track request (method INTERACTIVE)
     */
    public static TrackRequest followRequest(EmbeddingKey key, FrameAnnotation start, double iouThreshold,
            boolean backward, String method) {
        TrackRequest.Builder request = TrackRequest.newBuilder().setKey(key).setMethod(TrackMethod.INTERACTIVE)
                .setStart(start).setBackward(backward).setFollowMethod(wire(method));
        if (iouThreshold > 0) {
            request.setIouThreshold(iouThreshold);
        }
        return request.build();
    }
}
