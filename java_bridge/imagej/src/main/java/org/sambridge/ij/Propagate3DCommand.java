package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import java.util.ArrayList;
import java.util.List;
import org.sambridge.client.LabelResult;
import org.sambridge.client.PropagationMethod;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.v1.Box;
import org.sambridge.v1.ProjectionMode;
import org.sambridge.v1.PropagationOptions;
import org.sambridge.v1.SliceAnnotation;
import org.sambridge.v1.VolumeResult;

/**
 * Plugins &gt; SAMBridge &gt; Propagate in 3D: the selection on the displayed slice of
 * a z stack (points and/or one rectangle) seeds one object that is propagated
 * through z (in a hyperstack with frames: the z stack of the displayed frame). Macro:
 * {@code run("Propagate in 3D", "projection=single_point iou_threshold=0.5 method=default");}
 * {@code method}: default (the model's own: "prompts" for SAM1-family models, "memory" for SAM2),
 * prompts (micro_sam's slice-by-slice) or memory (SAM2's memory propagation); see
 * {@link PropagationMethod}.
 */
public final class Propagate3DCommand extends BridgeCommand {
    private static final String[] MODES = {"single_point", "points", "box", "mask", "points_and_mask"};

    @Override
    protected String name() {
        return "Propagate in 3D";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        if (imp.getNFrames() > 1 && imp.getNSlices() < 2) {
            throw new IllegalStateException("This is a time series; use Track instead.");
        }
        if (imp.getStackSize() < 2) {
            throw new IllegalStateException("Propagate in 3D needs a z stack.");
        }
        PromptCollector prompts = PromptCollector.collect(imp.getRoi());
        if (prompts.isEmpty()) {
            throw new IllegalStateException("Select the object on one slice first (points or a rectangle).");
        }
        GenericDialog gd = new GenericDialog("SAMBridge Propagate in 3D");
        gd.addChoice("projection", MODES, MODES[0]);
        gd.addNumericField("iou_threshold", 0.5, 2);
        gd.addChoice("method", PropagationMethod.CHOICES, PropagationMethod.CHOICES[0]);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        ProjectionMode mode = ProjectionMode.values()[1 + gd.getNextChoiceIndex()];
        double iou = gd.getNextNumber();
        String method = gd.getNextChoice();
        // the z stack of the displayed frame (of the displayed channel), also in a hyperstack with frames
        int z = imp.getZ() - 1;
        SliceAnnotation.Builder annotation = SliceAnnotation.newBuilder().setZ(z).addAllPoints(prompts.allPoints());
        List<Box> boxes = new ArrayList<>(prompts.boxes());
        if (!boxes.isEmpty()) {
            annotation.setBox(boxes.get(0));
        }
        String imageId = client.upload(ImageJArrays.fromImagePlus(imp, "z")).getImageId();
        PropagationOptions options = options(mode, iou, method);
        List<SliceAnnotation> annotations = new ArrayList<>();
        annotations.add(annotation.build());
        LabelResult result = client.propagate(imageId, annotations, options, new ImageJProgress(name()));
        VolumeResult volume = (VolumeResult) result.raw();
        IJ.log("SAMBridge Propagate in 3D: object spans z " + volume.getZBegin() + ".." + volume.getZEnd());
        ResultPublisher.publish(imp, result, -1, false, name(), "z");
    }

    /**
     * @param mode the projection
     * @param iou the IoU threshold
     * @param method a choice of {@link PropagationMethod#CHOICES} ("default" sends no method)
     * @return the options the dialog's values send
     */
    static PropagationOptions options(ProjectionMode mode, double iou, String method) {
        return PropagationMethod.apply(PropagationOptions.newBuilder().setProjection(mode).setIouThreshold(iou).build(),
                method);
    }
}
