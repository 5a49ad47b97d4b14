package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import ij.gui.Roi;
import java.util.Arrays;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.ij.convert.LabelArrays;
import org.sambridge.v1.Job;
import org.sambridge.v1.JobState;
import org.sambridge.v1.StartTrainingRequest;
import org.sambridge.v1.TrainingPair;

/**
 * Plugins &gt; SAMBridge &gt; Finetune: trains a new model on the server from the displayed image
 * and its annotations, either the ROI Manager's area ROIs (one object each) or a label image,
 * then follows the job: status bar, progress bar and the loss curve as a Plot; Esc cancels the
 * job. When it succeeds the new model is served (and, with "use", used by later commands).
 * Stacks: every plane with objects is one training pair. Macro:
 * {@code run("Finetune", "annotations=[ROI Manager] labels=[] output_model=my_model base_model=[] epochs=1 time_budget=600 patch_size=0 steps_per_epoch=0 freeze_encoder use");}
 */
public final class FinetuneCommand extends BridgeCommand {
    static final String FROM_ROIS = "ROI Manager";
    static final String FROM_LABELS = "label image";

    @Override
    protected String name() {
        return "Finetune";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        GenericDialog gd = new GenericDialog("SAMBridge Finetune");
        gd.addChoice("annotations", new String[] {FROM_ROIS, FROM_LABELS}, FROM_ROIS);
        gd.addChoice("labels", ImageChoice.titles(), ImageChoice.defaultLabels(imp));
        gd.addStringField("output_model", imp.getShortTitle() + "_finetuned", 20);
        gd.addStringField("base_model", client.model(), 20);
        gd.addNumericField("epochs", 1, 0);
        gd.addNumericField("time_budget", 600, 0, 6, "s (0 = none)");
        gd.addNumericField("patch_size", 0, 0, 6, "px (0 = preset)");
        gd.addNumericField("steps_per_epoch", 0, 0, 6, "(0 = preset)");
        gd.addCheckbox("freeze_encoder", true);
        gd.addCheckbox("use", true);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        boolean fromRois = FROM_ROIS.equals(gd.getNextChoice());
        String labelsTitle = gd.getNextChoice();
        String output = gd.getNextString().trim();
        StartTrainingRequest.Builder request = StartTrainingRequest.newBuilder().setOutputModel(output)
                .setBaseModel(gd.getNextString().trim()).setEpochs((int) gd.getNextNumber())
                .setTimeBudgetS(gd.getNextNumber());
        int patch = (int) gd.getNextNumber();
        int steps = (int) gd.getNextNumber();
        if (patch > 0) {
            request.setPatchSize(patch);
        }
        if (steps > 0) {
            request.setStepsPerEpoch(steps);
        }
        request.setFreezeEncoder(gd.getNextBoolean());
        boolean use = gd.getNextBoolean();
        ImagePlus labels = fromRois ? labelsFromRois(imp) : ImageChoice.require(labelsTitle);
        addPairs(client, imp, labels, request);
        Job job = client.training().start(request.build());
        IJ.log("SAMBridge Finetune: job " + job.getJobId() + " -> " + output + " (" + request.getPairsCount()
                + " image(s))");
        TrainingMonitor monitor = new TrainingMonitor(output);
        Job done = client.training().watch(job.getJobId(), monitor);
        monitor.finish();
        if (done.getState() != JobState.SUCCEEDED) {
            throw new IllegalStateException("job " + done.getJobId() + " " + done.getState() + ": "
                    + done.getMessage());
        }
        if (use) {
            client.setModel(output);
        }
        IJ.log("SAMBridge Finetune: " + output + " served" + (use ? " and in use" : "") + " (epoch "
                + done.getEpoch() + ", step " + done.getStep() + ", best val mSA "
                + String.format("%.3f", done.getBestValMsa()) + ", " + monitor.curve().size() + " loss points)");
    }

    /** The ROI Manager's area ROIs painted into a label stack shaped like the image's planes. */
    static ImagePlus labelsFromRois(ImagePlus imp) {
        Roi[] rois = ResultPublisher.roiManager().getRoisAsArray();
        if (rois.length == 0) {
            throw new IllegalStateException("the ROI Manager is empty: add the objects to train on");
        }
        boolean series = "t".equals(BridgeSession.stackAxis(imp));
        return LabelArrays.paint(Arrays.asList(rois), imp.getWidth(), imp.getHeight(), imp.getStackSize() > 1
                ? (series ? imp.getNFrames() : imp.getNSlices()) : 1,
                roi -> imp.getStackSize() <= 1 ? 0 : planeOf(roi, series));
    }

    private static int planeOf(Roi roi, boolean series) {
        if (roi.hasHyperStackPosition()) {
            return series ? roi.getTPosition() : roi.getZPosition();
        }
        return roi.getPosition();
    }

    /** One (plane, labels) pair per plane that has objects. */
    private static void addPairs(SamBridgeClient client, ImagePlus imp, ImagePlus labels,
            StartTrainingRequest.Builder request) {
        int planes = Math.min(labels.getStackSize(), Math.max(1, imp.getStackSize()));
        for (int p = 1; p <= planes; p++) {
            if (labels.getStack().getProcessor(p).getStatistics().max == 0) {
                continue;
            }
            ImagePlus image = imp.getStackSize() <= 1 ? imp
                    : new ImagePlus("plane", imp.getStack().getProcessor(imp.getStackSize() == planes ? p : 1));
            String imageId = client.upload(ImageJArrays.fromImagePlus(image, "z")).getImageId();
            String labelsId = client.upload(LabelArrays.fromImagePlus(
                    new ImagePlus("labels", labels.getStack().getProcessor(p)), "z")).getImageId();
            request.addPairs(TrainingPair.newBuilder().setImageId(imageId).setLabelsId(labelsId));
        }
        if (request.getPairsCount() == 0) {
            throw new IllegalStateException("no objects to train on");
        }
    }
}
