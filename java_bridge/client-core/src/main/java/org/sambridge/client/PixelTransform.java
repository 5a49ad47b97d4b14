package org.sambridge.client;

/**
 * Maps coordinates of a (possibly downsampled) request region back to the full
 * image: {@code image_x = offsetX + downsample * x}, {@code image_y = offsetY + downsample * y}.
 * Used when a QuPath region was read at a downsample and sent to the server.
 */
public final class PixelTransform {
    /** The identity: region = full image at full resolution. */
    public static final PixelTransform IDENTITY = new PixelTransform(0, 0, 1);

    private final double offsetX;
    private final double offsetY;
    private final double downsample;

    /**
     * @param offsetX full-image x of the region's left edge
     * @param offsetY full-image y of the region's top edge
     * @param downsample full-image pixels per region pixel (&gt; 0)
     */
    public PixelTransform(double offsetX, double offsetY, double downsample) {
        if (!(downsample > 0)) {
            throw new IllegalArgumentException("downsample must be > 0, got " + downsample);
        }
        this.offsetX = offsetX;
        this.offsetY = offsetY;
        this.downsample = downsample;
    }

    /**
     * @param x region x
     * @return full-image x
     */
    public double toImageX(double x) {
        return offsetX + downsample * x;
    }

    /**
     * @param y region y
     * @return full-image y
     */
    public double toImageY(double y) {
        return offsetY + downsample * y;
    }

    /**
     * The inverse, for prompts: full-image x to region x.
     *
     * @param imageX full-image x
     * @return region x
     */
    public double toRegionX(double imageX) {
        return (imageX - offsetX) / downsample;
    }

    /**
     * The inverse, for prompts: full-image y to region y.
     *
     * @param imageY full-image y
     * @return region y
     */
    public double toRegionY(double imageY) {
        return (imageY - offsetY) / downsample;
    }

    /** @return the downsample factor */
    public double downsample() {
        return downsample;
    }

    /** @return area of one region pixel in full-image pixels */
    public double pixelArea() {
        return downsample * downsample;
    }
}
