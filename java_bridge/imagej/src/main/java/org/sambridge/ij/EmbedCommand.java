package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.v1.EmbedResult;

/**
 * Plugins &gt; SAMBridge &gt; Embed current image: uploads the image (skipped if the
 * server has it) and computes its embeddings with progress. Macro:
 * {@code run("Embed current image", "tile=0 halo=0");}
 */
public final class EmbedCommand extends BridgeCommand {
    @Override
    protected String name() {
        return "Embed";
    }

    @Override
    protected void execute() {
        ImagePlus imp = requireImage();
        SamBridgeClient client = BridgeSession.require();
        GenericDialog gd = new GenericDialog("SAMBridge Embed");
        gd.addNumericField("tile", 0, 0, 6, "px (0 = the model's native tiling, -1 = whole image)");
        gd.addNumericField("halo", 0, 0, 6, "px");
        gd.showDialog();
        if (gd.wasCanceled()) {
            return;
        }
        int tile = (int) gd.getNextNumber();
        int halo = (int) gd.getNextNumber();
        client.setTiling(tile, tile, halo, halo);
        IJ.showStatus("SAMBridge: uploading " + imp.getTitle() + "...");
        String imageId = BridgeSession.upload(imp);
        EmbedResult result = client.embed(imageId, new ImageJProgress("Embed"));
        IJ.log(String.format("SAMBridge Embed: %s -> %s: %d slice(s), %d tile(s), %d from cache, %.1f s",
                imp.getTitle(), imageId, result.getNSlices(), result.getNTiles(), result.getNCached(),
                result.getSeconds()));
        IJ.showStatus("SAMBridge: embedded " + imp.getTitle());
    }
}
