package org.sambridge.client;

import ij.ImagePlus;
import ij.ImageStack;
import ij.process.FloatProcessor;
import ij.process.ImageProcessor;
import ij.process.ShortProcessor;

/**
 * A decoded label image ("yx", "zyx" or "tyx"): labels as Java ints in C order,
 * 0 = background. uint32 values above 2^31-1 appear negative (never happens
 * for object counts in practice).
 */
public final class LabelImage {
    private final int[] labels;
    private final int depth;
    private final int height;
    private final int width;
    private final String axes;

    /**
     * @param labels C-order labels, length depth*height*width (not copied)
     * @param depth number of planes (1 for "yx")
     * @param height rows
     * @param width columns
     * @param axes "yx", "zyx" or "tyx"
     */
    public LabelImage(int[] labels, int depth, int height, int width, String axes) {
        if ((long) depth * height * width != labels.length) {
            throw new IllegalArgumentException("label data has " + labels.length + " values, expected "
                    + depth + "x" + height + "x" + width);
        }
        this.labels = labels;
        this.depth = depth;
        this.height = height;
        this.width = width;
        this.axes = axes;
    }

    /** @return all labels in C order (not copied) */
    public int[] labels() {
        return labels;
    }

    /** @return planes (1 for a 2D image) */
    public int depth() {
        return depth;
    }

    /** @return rows */
    public int height() {
        return height;
    }

    /** @return columns */
    public int width() {
        return width;
    }

    /** @return the axes string */
    public String axes() {
        return axes;
    }

    /**
     * @param plane plane index
     * @param y row
     * @param x column
     * @return the label at that position
     */
    public int get(int plane, int y, int x) {
        return labels[(plane * height + y) * width + x];
    }

    /** @return the largest label */
    public int maxLabel() {
        int max = 0;
        for (int v : labels) {
            max = Math.max(max, v);
        }
        return max;
    }

    /**
     * One plane as an ImageJ processor: 16-bit if all labels fit, else 32-bit float.
     *
     * @param plane plane index
     * @return a new processor
     */
    public ImageProcessor toProcessor(int plane) {
        int n = width * height;
        int offset = plane * n;
        if (maxLabel() < 65536) {
            short[] pixels = new short[n];
            for (int i = 0; i < n; i++) {
                pixels[i] = (short) labels[offset + i];
            }
            return new ShortProcessor(width, height, pixels, null);
        }
        float[] pixels = new float[n];
        for (int i = 0; i < n; i++) {
            pixels[i] = labels[offset + i];
        }
        return new FloatProcessor(width, height, pixels, null);
    }

    /**
     * The whole label image as an ImagePlus (a stack for 3D; frames for "tyx").
     *
     * @param title window title
     * @return a new image with a glasbey-like display range
     */
    public ImagePlus toImagePlus(String title) {
        ImageStack stack = new ImageStack(width, height);
        for (int z = 0; z < depth; z++) {
            stack.addSlice(null, toProcessor(z));
        }
        ImagePlus imp = new ImagePlus(title, stack);
        if (axes.startsWith("t") && depth > 1) {
            imp.setDimensions(1, 1, depth);
        }
        imp.setDisplayRange(0, Math.max(1, maxLabel()));
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
}
