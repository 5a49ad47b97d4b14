package org.sambridge.ij.convert;

import ij.gui.Roi;
import ij.plugin.filter.ThresholdToSelection;
import ij.process.ByteProcessor;
import ij.process.ImageProcessor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.sambridge.client.LabelContours;
import org.sambridge.client.LabelImage;

/**
 * Converts binary masks and label images into ImageJ ROIs with
 * {@link ThresholdToSelection}: holes and multiple parts are kept (as ShapeRois).
 */
public final class RoiConverter {
    private RoiConverter() {
    }

    /**
     * One ROI for all foreground (non-zero) pixels of a mask.
     *
     * @param mask a binary image
     * @return the ROI, or null if the mask is empty
     */
    public static Roi maskToRoi(ImageProcessor mask) {
        ByteProcessor binary = new ByteProcessor(mask.getWidth(), mask.getHeight());
        byte[] pixels = (byte[]) binary.getPixels();
        boolean any = false;
        for (int i = 0; i < pixels.length; i++) {
            if (mask.getf(i) != 0f) {
                pixels[i] = (byte) 255;
                any = true;
            }
        }
        return any ? threshold(binary) : null;
    }

    /**
     * One ROI for a {@code [y][x]} mask.
     *
     * @param mask the mask
     * @return the ROI, or null if the mask is empty
     */
    public static Roi maskToRoi(boolean[][] mask) {
        int height = mask.length;
        int width = height == 0 ? 0 : mask[0].length;
        ByteProcessor binary = new ByteProcessor(Math.max(1, width), Math.max(1, height));
        boolean any = false;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (mask[y][x]) {
                    binary.set(x, y, 255);
                    any = true;
                }
            }
        }
        return any ? threshold(binary) : null;
    }

    /**
     * One ROI per label of one plane, named "SAM-&lt;label&gt;"; for stacks the ROI
     * position is set to {@code plane + 1}.
     *
     * @param labels the label image
     * @param plane plane index (0 for 2D)
     * @return ROIs sorted by label
     */
    public static List<Roi> labelsToRois(LabelImage labels, int plane) {
        List<Roi> rois = new ArrayList<>();
        for (Map.Entry<Integer, int[]> entry : LabelContours.boundingBoxes(labels, plane).entrySet()) {
            int label = entry.getKey();
            int[] box = entry.getValue();
            int w = box[2] - box[0] + 1;
            int h = box[3] - box[1] + 1;
            ByteProcessor crop = new ByteProcessor(w, h);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    if (labels.get(plane, y + box[1], x + box[0]) == label) {
                        crop.set(x, y, 255);
                    }
                }
            }
            Roi roi = threshold(crop);
            roi.setLocation(roi.getXBase() + box[0], roi.getYBase() + box[1]);
            roi.setName(String.format("SAM-%04d", label));
            if (labels.depth() > 1) {
                roi.setPosition(plane + 1);
            }
            rois.add(roi);
        }
        return rois;
    }

    /**
     * ROIs of all planes of a label image.
     *
     * @param labels the label image
     * @return ROIs, plane by plane
     */
    public static List<Roi> labelsToRois(LabelImage labels) {
        List<Roi> rois = new ArrayList<>();
        for (int plane = 0; plane < labels.depth(); plane++) {
            rois.addAll(labelsToRois(labels, plane));
        }
        return rois;
    }

    /**
     * The number of pixels inside a ROI (exact, from its mask).
     *
     * @param roi the ROI
     * @return pixel count
     */
    public static long pixelCount(Roi roi) {
        ImageProcessor mask = roi.getMask();
        if (mask == null) {
            return (long) roi.getBounds().width * roi.getBounds().height;
        }
        long count = 0;
        byte[] pixels = (byte[]) mask.getPixels();
        for (byte b : pixels) {
            if (b != 0) {
                count++;
            }
        }
        return count;
    }

    private static Roi threshold(ByteProcessor binary) {
        binary.setThreshold(255, 255, ImageProcessor.NO_LUT_UPDATE);
        return new ThresholdToSelection().convert(binary);
    }
}
