package org.sambridge.ij.convert;

import ij.ImagePlus;
import ij.ImageStack;
import ij.process.FloatProcessor;
import ij.process.ImageProcessor;
import ij.process.ShortProcessor;
import org.sambridge.client.LabelImage;
import org.sambridge.client.MaskCodec;
import org.sambridge.v1.NDArray;

/**
 * Converts between the client's {@link LabelImage}s (and label NDArrays) and ImageJ
 * images: 16-bit when every label fits, else 32-bit float.
 */
public final class LabelProcessors {
    private LabelProcessors() {
    }

    /**
     * One plane as an ImageJ processor: 16-bit if all labels fit, else 32-bit float.
     *
     * @param labels the label image
     * @param plane plane index
     * @return a new processor
     */
    public static ImageProcessor toProcessor(LabelImage labels, int plane) {
        int n = labels.width() * labels.height();
        int offset = plane * n;
        int[] values = labels.labels();
        if (labels.maxLabel() < 65536) {
            short[] pixels = new short[n];
            for (int i = 0; i < n; i++) {
                pixels[i] = (short) values[offset + i];
            }
            return new ShortProcessor(labels.width(), labels.height(), pixels, null);
        }
        float[] pixels = new float[n];
        for (int i = 0; i < n; i++) {
            pixels[i] = values[offset + i];
        }
        return new FloatProcessor(labels.width(), labels.height(), pixels, null);
    }

    /**
     * The whole label image as an ImagePlus (a stack for 3D; frames for "tyx").
     *
     * @param labels the label image
     * @param title window title
     * @return a new image with a display range covering every label
     */
    public static ImagePlus toImagePlus(LabelImage labels, String title) {
        ImageStack stack = new ImageStack(labels.width(), labels.height());
        for (int z = 0; z < labels.depth(); z++) {
            stack.addSlice(null, toProcessor(labels, z));
        }
        ImagePlus imp = new ImagePlus(title, stack);
        if (labels.axes().startsWith("t") && labels.depth() > 1) {
            imp.setDimensions(1, 1, labels.depth());
        }
        imp.setDisplayRange(0, Math.max(1, labels.maxLabel()));
        return imp;
    }

    /**
     * Creates a label image from an ImageJ processor (values rounded to ints).
     *
     * @param ip a label image of any bit depth
     * @return a "yx" label image
     */
    public static LabelImage fromProcessor(ImageProcessor ip) {
        int w = ip.getWidth();
        int h = ip.getHeight();
        int[] values = new int[w * h];
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.round(ip.getf(i));
        }
        return new LabelImage(values, 1, h, w, "yx");
    }

    /**
     * Decodes a 2D label NDArray straight into an ImageJ processor.
     *
     * @param array a "yx" label array
     * @return 16-bit or 32-bit processor
     */
    public static ImageProcessor decode(NDArray array) {
        return toProcessor(MaskCodec.decodeLabels(array), 0);
    }

    /**
     * Encodes an ImageJ label image as a uint32 "yx" NDArray.
     *
     * @param ip a label image
     * @param zlib compress with zlib
     * @return the wire array
     */
    public static NDArray encode(ImageProcessor ip, boolean zlib) {
        return MaskCodec.encodeLabels(fromProcessor(ip), zlib);
    }
}
