package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import java.util.List;
import java.util.Map;
import org.sambridge.client.LabelResult;
import org.sambridge.client.PropagationMethod;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.v1.Box;
import org.sambridge.v1.EmbeddingKey;
import org.sambridge.v1.FrameAnnotation;
import org.sambridge.v1.Point;
import org.sambridge.v1.TrackRequest;
import org.sambridge.v1.TrackResult;

/**
 * Plugins &gt; SAMBridge &gt; Follow object: interactive tracking (TrackService Track, method
 * INTERACTIVE): the selection on the displayed frame of a time series (points and/or one
 * rectangle) seeds one object that is followed through the later frames (and the earlier ones
 * with {@code backward}); in a hyperstack with slices and frames: the time series of the
 * displayed slice. The track is added like a Propagate in 3D result (one name, one ROI per frame).
 * Macro: {@code run("Follow object", "iou_threshold=0.5 backward method=default");}
 * {@code method}: default (the model's own: "prompts" for SAM1-family models, "memory" for SAM2),
 * prompts (each frame prompted from the shifted previous mask) or memory (SAM2's memory
 * propagation); sent as {@code follow_method} (see {@link PropagationMethod}).
 */
public final class FollowObjectCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Follow object";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        if (imp.getStackSize() < 2) {
            throw new IllegalStateException("Follow object needs a time series (several frames).");
        }
        PromptCollector prompts = PromptCollector.collect(imp.getRoi());
        if (prompts.isEmpty()) {
            throw new IllegalStateException("Select the object on one frame first (points or a rectangle).");
        }
        GenericDialog gd = new GenericDialog("SAMBridge Follow object");
        gd.addNumericField("iou_threshold", 0.5, 2);
        gd.addCheckbox("backward", false);
        gd.addChoice("method", PropagationMethod.CHOICES, PropagationMethod.CHOICES[0]);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        double iou = gd.getNextNumber();
        boolean backward = gd.getNextBoolean();
        String method = gd.getNextChoice();
        // the time series of the displayed slice (a plain stack is taken as time)
        int t = BridgeSession.currentIndex(imp);
        String imageId = client.upload(ImageJArrays.fromImagePlus(imp, "t")).getImageId();
        TrackRequest request = request(client.key(imageId), t, prompts.allPoints(), prompts.boxes(), iou, backward,
                method);
        LabelResult result = client.track(request, new ImageJProgress(name()));
        TrackResult track = (TrackResult) result.raw();
        StringBuilder log = new StringBuilder("SAMBridge Follow object: " + track.getTracksCount() + " track(s)");
        for (Map.Entry<Integer, String> stop : track.getStopReasonsMap().entrySet()) {
            log.append("\n  track ").append(stop.getKey()).append(" stopped: ").append(stop.getValue());
        }
        IJ.log(log.toString());
        ResultPublisher.publish(imp, result, -1, false, name(), "t");
    }

    /**
     * The request the dialog's values send.
     *
     * @param key the embedding key of the uploaded "tyx" series
     * @param t the 0-based frame of the selection
     * @param points the selection's points (positive and negative)
     * @param boxes the selection's rectangles (the first one is used)
     * @param iou the IoU threshold (&lt;= 0: server default)
     * @param backward also follow back in time
     * @param method a choice of {@link PropagationMethod#CHOICES} ("default" sends no method)
     * @return the INTERACTIVE Track request
     */
    static TrackRequest request(EmbeddingKey key, int t, List<Point> points, List<Box> boxes, double iou,
            boolean backward, String method) {
        FrameAnnotation.Builder start = FrameAnnotation.newBuilder().setT(t).addAllPoints(points);
        if (!boxes.isEmpty()) {
            start.setBox(boxes.get(0));
        }
        return PropagationMethod.followRequest(key, start.build(), iou, backward, method);
    }
}
