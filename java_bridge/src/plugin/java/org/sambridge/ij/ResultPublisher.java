package org.sambridge.ij;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.Roi;
import ij.macro.Interpreter;
import ij.plugin.frame.RoiManager;
import java.util.List;
import org.sambridge.client.LabelImage;
import org.sambridge.client.LabelResult;
import org.sambridge.client.RoiConverter;

/** Puts results into ImageJ: ROIs (with holes and parts) into the ROI Manager and a label image. */
public final class ResultPublisher {
    private ResultPublisher() {
    }

    /**
     * Adds the ROIs of all labels and shows the label image.
     *
     * @param source the image the labels belong to
     * @param result the server's result
     * @param plane for a 2D result on a stack: the 0-based slice it belongs to; -1 otherwise
     * @param what short description for the log, e.g. "Segment all"
     * @return the number of ROIs added
     */
    public static int publish(ImagePlus source, LabelResult result, int plane, String what) {
        LabelImage labels = result.labels();
        List<Roi> rois = RoiConverter.labelsToRois(labels);
        RoiManager manager = roiManager();
        for (Roi roi : rois) {
            float score = result.scoreOf(labelOf(roi));
            if (!Float.isNaN(score)) {
                roi.setProperty("sam_score", Float.toString(score));
            }
            if (plane >= 0 && source.getStackSize() > 1) {
                roi.setPosition(plane + 1);
            }
            manager.addRoi(roi);
        }
        ImagePlus labelImage = labels.toImagePlus(source.getShortTitle() + "-SAM-labels");
        labelImage.setCalibration(source.getCalibration());
        labelImage.show();
        IJ.log("SAMBridge " + what + ": " + rois.size() + " objects -> ROI Manager and " + labelImage.getTitle());
        IJ.showStatus("SAMBridge " + what + ": " + rois.size() + " objects");
        return rois.size();
    }

    /**
     * The ROI Manager a macro sees: the hidden batch-mode one while a batch-mode
     * macro runs (so roiManager("save", ...) finds our ROIs), else the window.
     *
     * @return the ROI Manager
     */
    static RoiManager roiManager() {
        if (Interpreter.isBatchMode()) {
            RoiManager batch = Interpreter.getBatchModeRoiManager();
            if (batch != null) {
                return batch;
            }
        }
        return RoiManager.getRoiManager();
    }

    private static int labelOf(Roi roi) {
        String name = roi.getName();
        try {
            return Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
        } catch (RuntimeException e) {
            return -1;
        }
    }
}
