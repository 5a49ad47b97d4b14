package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import org.sambridge.client.LabelResult;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.v1.AutoMethod;
import org.sambridge.v1.Track;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;
import org.sambridge.v1.TrackResult;
import org.sambridge.v1.TrackingCosts;

/**
 * Plugins &gt; SAMBridge &gt; Track: automatic segmentation and tracking of a time
 * series (frames, or a plain stack taken as time; in a hyperstack with slices and frames: the
 * time series of the displayed slice, its ROIs at that slice and their own frame). Macro:
 * {@code run("Track", "segmentation=auto max_distance=50 time_limit=60");}
 */
public final class TrackCommand extends BridgeCommand {
    private static final String[] METHODS = {"auto", "AIS", "AMG"};

    @Override
    protected String name() {
        return "Track";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        if (imp.getStackSize() < 2) {
            throw new IllegalStateException("Track needs a time series (several frames).");
        }
        GenericDialog gd = new GenericDialog("SAMBridge Track");
        gd.addChoice("segmentation", METHODS, METHODS[0]);
        gd.addNumericField("max_distance", 50, 1, 6, "px (0 = server default)");
        gd.addNumericField("time_limit", 60, 0, 6, "s");
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        int method = gd.getNextChoiceIndex();
        double maxDistance = gd.getNextNumber();
        double timeLimit = gd.getNextNumber();
        String imageId = client.upload(ImageJArrays.fromImagePlus(imp, "t")).getImageId();
        TrackingCosts.Builder costs = TrackingCosts.newBuilder().setTimeLimitS(timeLimit);
        if (maxDistance > 0) {
            costs.setMaxDistance(maxDistance);
        }
        TrackRequest request = TrackRequest.newBuilder().setKey(client.key(imageId)).setMethod(TrackMethod.AUTO)
                .setSegmentationMethod(method == 1 ? AutoMethod.AIS : method == 2 ? AutoMethod.AMG
                        : AutoMethod.AUTO_METHOD_UNSPECIFIED)
                .setCosts(costs).build();
        LabelResult result = client.track(request, new ImageJProgress(name()));
        TrackResult tracks = (TrackResult) result.raw();
        ResultPublisher.Published published = ResultPublisher.publish(imp, result, -1, true, name());
        StringBuilder log = new StringBuilder("SAMBridge Track: " + tracks.getTracksCount() + " tracks, "
                + tracks.getNDivisions() + " divisions, solver " + tracks.getSolverStatus());
        for (Track track : tracks.getTracksList()) {
            String parent = track.getParent() > 0 ? published.nameOf((int) track.getParent()) : null;
            log.append("\n  ").append(nameOr(published, track.getId())).append(" (track ").append(track.getId())
                    .append("): frames ").append(track.getBegin()).append("..").append(track.getEnd())
                    .append(track.getParent() > 0 ? ", parent " + (parent == null ? "track " + track.getParent()
                            : parent) : "");
        }
        IJ.log(log.toString());
    }

    private static String nameOr(ResultPublisher.Published published, long trackId) {
        String name = published.nameOf((int) trackId);
        return name == null ? "(no pixels)" : name;
    }
}
