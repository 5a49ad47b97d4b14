package org.sambridge.ij.convert;

import ij.process.ByteProcessor;
import ij.process.ImageProcessor;
import org.sambridge.client.MaskCodec;
import org.sambridge.v1.Mask;

/**
 * Converts between wire {@link Mask}s and ImageJ binary images (255 = foreground);
 * the bit packing itself is the client's {@link MaskCodec}.
 */
public final class MaskProcessors {
    private MaskProcessors() {
    }

    /**
     * Unpacks a wire mask into an ImageJ binary image (255 = foreground).
     *
     * @param mask the wire mask
     * @return a new ByteProcessor
     */
    public static ByteProcessor toByteProcessor(Mask mask) {
        boolean[][] on = MaskCodec.unpack(mask);
        ByteProcessor bp = new ByteProcessor(mask.getWidth(), mask.getHeight());
        byte[] pixels = (byte[]) bp.getPixels();
        for (int y = 0; y < on.length; y++) {
            for (int x = 0; x < on[y].length; x++) {
                pixels[y * mask.getWidth() + x] = on[y][x] ? (byte) 255 : 0;
            }
        }
        return bp;
    }

    /**
     * Packs an ImageJ image as a mask: every non-zero pixel is foreground.
     *
     * @param ip any ImageJ processor
     * @return the wire mask
     */
    public static Mask toMask(ImageProcessor ip) {
        boolean[][] on = new boolean[ip.getHeight()][ip.getWidth()];
        for (int y = 0; y < on.length; y++) {
            for (int x = 0; x < on[y].length; x++) {
                on[y][x] = ip.getf(x, y) != 0f;
            }
        }
        return MaskCodec.pack(on);
    }
}
