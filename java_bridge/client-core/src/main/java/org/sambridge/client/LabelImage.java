package org.sambridge.client;

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
}
