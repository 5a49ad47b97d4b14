package org.sambridge.ij;

import ij.ImagePlus;
import ij.process.LUT;
import java.awt.Color;

/**
 * A glasbey-style LUT for label images: 0 is black, every other entry a saturated colour far
 * from its neighbours (hues stepped by the golden angle, brightness and saturation alternating),
 * so neighbouring labels differ and none is dark or grey.
 */
public final class LabelLut {
    private LabelLut() {
    }

    /** @return the 256-entry LUT */
    public static LUT create() {
        byte[] r = new byte[256];
        byte[] g = new byte[256];
        byte[] b = new byte[256];
        for (int i = 1; i < 256; i++) {
            float hue = (float) ((i * 0.6180339887498949) % 1.0);
            float saturation = (i % 3 == 0) ? 0.55f : (i % 3 == 1) ? 1.0f : 0.8f;
            float brightness = (i % 2 == 0) ? 0.8f : 1.0f;
            int rgb = Color.HSBtoRGB(hue, saturation, brightness);
            r[i] = (byte) ((rgb >> 16) & 0xff);
            g[i] = (byte) ((rgb >> 8) & 0xff);
            b[i] = (byte) (rgb & 0xff);
        }
        return new LUT(r, g, b);
    }

    /**
     * Applies the LUT with a display range in which label k is LUT entry k (labels up to 255;
     * above, the range spans all labels).
     *
     * @param imp a label image
     * @param maxLabel its largest label
     */
    public static void apply(ImagePlus imp, int maxLabel) {
        LUT lut = create();
        double max = Math.max(255, maxLabel);
        imp.setLut(lut);
        imp.setDisplayRange(0, max);
    }
}
