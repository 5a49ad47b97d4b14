package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import java.io.File;
import org.sambridge.client.LabelResult;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.ij.convert.LabelArrays;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;
import org.sambridge.v1.TrackResult;
import org.sambridge.v1.TrackingCosts;

/**
 * Plugins &gt; SAMBridge &gt; Track labels: links the objects of a given label stack (one plane per
 * frame, e.g. from another tool or from Segment all) into tracks, without segmenting; optionally
 * writes the Cell Tracking Challenge format (maskTTT.tif + res_track.txt). Macro:
 * {@code run("Track labels", "labels=[labels.tif] max_distance=50 time_limit=60 ctc_export=/path/to/folder");}
 */
public final class TrackLabelsCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Track labels";
    }

    @Override
    protected void execute() throws Exception {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        if (imp.getStackSize() < 2) {
            throw new IllegalStateException("Track labels needs a time series (several frames).");
        }
        GenericDialog gd = new GenericDialog("SAMBridge Track labels");
        gd.addChoice("labels", ImageChoice.titles(), ImageChoice.defaultLabels(imp));
        gd.addNumericField("max_distance", 50, 1, 6, "px (0 = server default)");
        gd.addNumericField("time_limit", 60, 0, 6, "s");
        gd.addDirectoryField("ctc_export", "", 30);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        ImagePlus labels = ImageChoice.require(gd.getNextChoice());
        double maxDistance = gd.getNextNumber();
        double timeLimit = gd.getNextNumber();
        String ctc = gd.getNextString().trim();
        if (labels.getStackSize() != imp.getStackSize()) {
            throw new IllegalArgumentException(labels.getTitle() + " has " + labels.getStackSize()
                    + " planes, the series " + imp.getStackSize());
        }
        String imageId = client.upload(ImageJArrays.fromImagePlus(imp, "t")).getImageId();
        String labelsId = client.upload(LabelArrays.fromImagePlus(labels, "t", imp.getZ(), imp.getT())).getImageId();
        TrackingCosts.Builder costs = TrackingCosts.newBuilder().setTimeLimitS(timeLimit);
        if (maxDistance > 0) {
            costs.setMaxDistance(maxDistance);
        }
        TrackRequest request = TrackRequest.newBuilder().setKey(client.key(imageId)).setMethod(TrackMethod.AUTO)
                .setLabelsImageId(labelsId).setCosts(costs).build();
        LabelResult result = client.track(request, new ImageJProgress(name()));
        TrackResult tracks = (TrackResult) result.raw();
        if (!ctc.isEmpty()) {
            int files = CtcWriter.write(new File(ctc), result.labels(), tracks);
            IJ.log("SAMBridge Track labels: CTC result (" + files + " masks, res_track.txt) -> " + ctc);
        }
        ResultPublisher.publish(imp, result, -1, true, name());
        IJ.log("SAMBridge Track labels: " + tracks.getTracksCount() + " tracks, " + tracks.getNDivisions()
                + " divisions, solver " + tracks.getSolverStatus());
    }
}
