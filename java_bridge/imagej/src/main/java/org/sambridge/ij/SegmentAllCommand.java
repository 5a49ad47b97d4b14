package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import org.sambridge.client.LabelResult;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.AutoMethod;
import org.sambridge.v1.AutoSegmentRequest;

/**
 * Plugins &gt; SAMBridge &gt; Segment all (AIS): automatic instance segmentation of
 * the displayed slice or of every slice. Macro:
 * {@code run("Segment all (AIS)", "method=auto slices=current");}
 */
public final class SegmentAllCommand extends BridgeCommand {
    private static final String[] METHODS = {"auto", "AIS", "AMG"};
    private static final String[] SLICES = {"current", "all"};

    @Override
    protected String name() {
        return "Segment all";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        GenericDialog gd = new GenericDialog("SAMBridge Segment all");
        gd.addChoice("method", METHODS, METHODS[0]);
        gd.addChoice("slices", SLICES, SLICES[0]);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        String method = gd.getNextChoice();
        boolean current = SLICES[0].equals(gd.getNextChoice()) && imp.getStackSize() > 1;
        String imageId = BridgeSession.upload(imp);
        AutoSegmentRequest.Builder request = AutoSegmentRequest.newBuilder().setKey(client.key(imageId))
                .setMethod("AIS".equals(method) ? AutoMethod.AIS
                        : "AMG".equals(method) ? AutoMethod.AMG : AutoMethod.AUTO_METHOD_UNSPECIFIED);
        int index = BridgeSession.currentIndex(imp);
        if (current) {
            request.addIndices(index);
        }
        IJ.showStatus("SAMBridge: segmenting all objects...");
        LabelResult result = client.autoSegment(request.build(), new ImageJProgress(name()));
        if (current && result.labels().depth() > 1) {
            result = SlicePicker.plane(result, index);
        }
        ResultPublisher.publish(imp, result, current ? index : -1, true, name());
    }
}
