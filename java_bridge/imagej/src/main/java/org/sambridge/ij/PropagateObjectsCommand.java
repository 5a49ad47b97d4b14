package org.sambridge.ij;

import ij.ImagePlus;
import ij.gui.GenericDialog;
import org.sambridge.client.LabelResult;
import org.sambridge.client.PropagationMethod;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.ij.convert.LabelProcessors;
import org.sambridge.v1.ProjectionMode;
import org.sambridge.v1.PropagationOptions;

/**
 * Plugins &gt; SAMBridge &gt; Propagate all objects: every object of a label image on the displayed
 * slice (by default the source's SAM label image) is propagated through the z stack at once; the
 * 3D objects replace the label image's planes they reach. Macro:
 * {@code run("Propagate all objects", "labels=[stack-SAM-labels] projection=single_point iou_threshold=0.5 method=default");}
 * {@code method}: default (the model's own), prompts (micro_sam's slice-by-slice) or memory
 * (SAM2's memory propagation); see {@link PropagationMethod}.
 */
public final class PropagateObjectsCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Propagate all objects";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        if (imp.getStackSize() < 2 || imp.getNFrames() > 1 && imp.getNSlices() < 2) {
            throw new IllegalStateException("Propagate all objects needs a z stack.");
        }
        GenericDialog gd = new GenericDialog("SAMBridge Propagate all objects");
        gd.addChoice("labels", ImageChoice.titles(), ImageChoice.defaultLabels(imp));
        gd.addChoice("projection", Projections.CHOICES, Projections.CHOICES[0]);
        gd.addNumericField("iou_threshold", 0.5, 2);
        gd.addChoice("method", PropagationMethod.CHOICES, PropagationMethod.CHOICES[0]);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        ImagePlus labels = ImageChoice.require(gd.getNextChoice());
        ProjectionMode projection = Projections.of(gd.getNextChoiceIndex());
        double iou = gd.getNextNumber();
        PropagationOptions options = Propagate3DCommand.options(projection, iou, gd.getNextChoice());
        // the z stack of the displayed frame, also in a hyperstack with frames; seeds from the same
        // slice (and frame) of a label image shaped like the source, else its displayed plane
        int z = imp.getZ() - 1;
        int plane = labels.getStackSize() == imp.getStackSize()
                ? labels.getStackIndex(1, z + 1, labels.getNFrames() > 1 ? imp.getT() : 1) : labels.getCurrentSlice();
        org.sambridge.client.LabelImage seeds = LabelProcessors.fromProcessor(labels.getStack().getProcessor(plane));
        if (seeds.maxLabel() == 0) {
            throw new IllegalStateException(labels.getTitle() + " has no objects on slice " + (z + 1));
        }
        String imageId = client.upload(ImageJArrays.fromImagePlus(imp, "z")).getImageId();
        LabelResult result = client.propagateObjects(imageId, z, seeds, options, new ImageJProgress(name()));
        ResultPublisher.publish(imp, result, -1, true, name(), "z");
    }
}
