package org.sambridge.qupath;

import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import org.sambridge.client.PixelArray;
import org.sambridge.v1.DType;

/**
 * Converts java.awt images (as QuPath's {@code server.readRegion} returns them)
 * into "yx" {@link PixelArray}s: RGB images keep their three channels ("yxc",
 * uint8); other images give one channel with its own type (uint8, uint16 or float32).
 */
public final class BufferedImages {
    private BufferedImages() {
    }

    /**
     * @param image the image
     * @param channel band to use for non-RGB images
     * @return the pixels
     */
    public static PixelArray toPixelArray(BufferedImage image, int channel) {
        int w = image.getWidth();
        int h = image.getHeight();
        int type = image.getType();
        if (type == BufferedImage.TYPE_INT_RGB || type == BufferedImage.TYPE_INT_ARGB
                || type == BufferedImage.TYPE_3BYTE_BGR || type == BufferedImage.TYPE_4BYTE_ABGR) {
            byte[] rgb = new byte[w * h * 3];
            int i = 0;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int argb = image.getRGB(x, y);
                    rgb[i++] = (byte) (argb >> 16);
                    rgb[i++] = (byte) (argb >> 8);
                    rgb[i++] = (byte) argb;
                }
            }
            return new PixelArray(DType.UINT8, new long[] {h, w, 3}, "yxc", rgb);
        }
        Raster raster = image.getRaster();
        if (channel < 0 || channel >= raster.getNumBands()) {
            throw new IllegalArgumentException("channel " + channel + " not in 0.." + (raster.getNumBands() - 1));
        }
        int dataType = raster.getDataBuffer().getDataType();
        if (dataType == DataBuffer.TYPE_BYTE) {
            int[] v = raster.getSamples(0, 0, w, h, channel, (int[]) null);
            byte[] b = new byte[v.length];
            for (int k = 0; k < v.length; k++) {
                b[k] = (byte) v[k];
            }
            return PixelArray.ofUInt8(b, "yx", h, w);
        }
        if (dataType == DataBuffer.TYPE_USHORT) {
            int[] v = raster.getSamples(0, 0, w, h, channel, (int[]) null);
            short[] s = new short[v.length];
            for (int k = 0; k < v.length; k++) {
                s[k] = (short) v[k];
            }
            return PixelArray.ofUInt16(s, "yx", h, w);
        }
        float[] f = raster.getSamples(0, 0, w, h, channel, (float[]) null);
        return PixelArray.ofFloat32(f, "yx", h, w);
    }
}
