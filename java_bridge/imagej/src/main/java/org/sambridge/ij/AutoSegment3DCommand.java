package org.sambridge.ij;

import ij.ImagePlus;
import ij.gui.GenericDialog;
import org.sambridge.client.LabelResult;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.v1.AutoMethod;
import org.sambridge.v1.AutoSegment3DRequest;
import org.sambridge.v1.EmbeddingKey;

/**
 * Plugins &gt; SAMBridge &gt; Auto 3D: automatic segmentation of every slice of a z stack (of the
 * displayed frame in a hyperstack with frames), merged
 * across slices into 3D objects (one name per object, one ROI per slice). Macro:
 * {@code run("Auto 3D", "method=auto min_overlap=0.3 gap_closing=1 min_z_extent=1");}
 */
public final class AutoSegment3DCommand extends BridgeCommand {
    private static final String[] METHODS = {"auto", "AIS", "AMG"};

    @Override
    protected String name() {
        return "Auto 3D";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        if (imp.getStackSize() < 2 || imp.getNFrames() > 1 && imp.getNSlices() < 2) {
            throw new IllegalStateException("Auto 3D needs a z stack (a time series: use Track).");
        }
        GenericDialog gd = new GenericDialog("SAMBridge Auto 3D");
        gd.addChoice("method", METHODS, METHODS[0]);
        gd.addNumericField("min_overlap", 0.3, 2);
        gd.addNumericField("gap_closing", 1, 0);
        gd.addNumericField("min_z_extent", 1, 0);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        int method = gd.getNextChoiceIndex();
        AutoSegment3DRequest request = AutoSegment3DRequest.newBuilder()
                // the z stack of the displayed frame, also in a hyperstack with frames
                .setKey(EmbeddingKey.newBuilder().setImageId(
                        client.upload(ImageJArrays.fromImagePlus(imp, "z")).getImageId()))
                .setMethod(method == 1 ? AutoMethod.AIS : method == 2 ? AutoMethod.AMG
                        : AutoMethod.AUTO_METHOD_UNSPECIFIED)
                .setMinOverlap(gd.getNextNumber()).setGapClosing((int) gd.getNextNumber())
                .setMinZExtent((int) gd.getNextNumber()).build();
        LabelResult result = client.autoSegment3D(request, new ImageJProgress(name()));
        ResultPublisher.publish(imp, result, -1, true, name(), "z");
    }
}
