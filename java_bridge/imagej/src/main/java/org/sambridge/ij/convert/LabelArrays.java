package org.sambridge.ij.convert;

import ij.ImagePlus;
import ij.ImageStack;
import ij.gui.Roi;
import ij.process.ImageProcessor;
import ij.process.ShortProcessor;
import java.util.List;
import org.sambridge.client.PixelArray;
import org.sambridge.v1.DType;

/**
 * Label images for upload: an ImageJ label image (any bit depth, one plane or a stack) as a
 * uint32 {@link PixelArray}, and ROIs painted into a label image (the ROI Manager as training
 * labels).
 */
public final class LabelArrays {
    private LabelArrays() {
    }

    /**
     * @param labels a label image (values rounded to ints)
     * @param stackAxis "z" or "t": what its planes are when it has several
     * @return uint32 "yx", "zyx" or "tyx"
     */
    public static PixelArray fromImagePlus(ImagePlus labels, String stackAxis) {
        return fromImagePlus(labels, stackAxis, labels.getZ(), labels.getT());
    }

    /**
     * @param labels a label image (values rounded to ints)
     * @param stackAxis "z" or "t": what its planes are when it has several
     * @param z for a hyperstack with slices and frames: the 1-based slice whose time series "t" takes
     * @param t for a hyperstack with slices and frames: the 1-based frame whose z stack "z" takes
     * @return uint32 "yx", "zyx" or "tyx"
     */
    public static PixelArray fromImagePlus(ImagePlus labels, String stackAxis, int z, int t) {
        ImageStack stack = labels.getStack();
        int w = labels.getWidth();
        int h = labels.getHeight();
        int[] indices = new int[stack.getSize()];
        if (labels.getNSlices() > 1 && labels.getNFrames() > 1) {
            indices = ImageJArrays.planeIndices(labels, stackAxis, 1, z, t);
        } else {
            for (int p = 0; p < indices.length; p++) {
                indices[p] = p + 1;
            }
        }
        int n = indices.length;
        int[] values = new int[w * h * n];
        for (int p = 0; p < n; p++) {
            ImageProcessor ip = stack.getProcessor(indices[p]);
            for (int i = 0; i < w * h; i++) {
                values[p * w * h + i] = Math.round(ip.getf(i));
            }
        }
        return n == 1 ? PixelArray.ofInt32(DType.UINT32, values, "yx", h, w)
                : PixelArray.ofInt32(DType.UINT32, values, stackAxis + "yx", n, h, w);
    }

    /**
     * Paints ROIs into a 16-bit label stack: ROI i gets label i + 1 (later ROIs overwrite earlier
     * ones where they overlap); a ROI with a stack position goes to that plane only, one without
     * to every plane.
     *
     * @param rois the ROIs (area ROIs; others are skipped)
     * @param width image width
     * @param height image height
     * @param planes number of planes
     * @param planeOf the 1-based plane of a ROI, or 0 for all planes
     * @return the label image
     */
    public static ImagePlus paint(List<Roi> rois, int width, int height, int planes,
            java.util.function.ToIntFunction<Roi> planeOf) {
        ImageStack stack = new ImageStack(width, height);
        for (int p = 0; p < planes; p++) {
            stack.addSlice(null, new ShortProcessor(width, height));
        }
        int label = 0;
        for (Roi roi : rois) {
            if (!roi.isArea()) {
                continue;
            }
            label++;
            int plane = planeOf.applyAsInt(roi);
            for (int p = 1; p <= planes; p++) {
                if (plane == 0 || plane == p) {
                    ImageProcessor ip = stack.getProcessor(p);
                    ip.setValue(label);
                    ip.fill(roi);
                }
            }
        }
        return new ImagePlus("labels", stack);
    }
}
