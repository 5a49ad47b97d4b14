package org.sambridge.qupath;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.awt.image.BufferedImage;
import org.junit.Test;
import org.sambridge.client.PixelArray;
import org.sambridge.v1.DType;

/** QuPath regions (BufferedImages) become the same arrays as ImageJ images. */
public class BufferedImagesTest {
    @Test
    public void gray16MatchesPythonContentId() {
        BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_USHORT_GRAY);
        int[] values = {0, 1, 2, 300, 65535, 7};
        img.getRaster().setSamples(0, 0, 3, 2, 0, values);
        PixelArray a = BufferedImages.toPixelArray(img, 0);
        assertEquals(DType.UINT16, a.dtype());
        assertEquals("sha1:2acd2ce82128dc854bb37abf2490e60cec9a9cdc", a.contentId());
    }

    @Test
    public void rgbIsYxc() {
        BufferedImage img = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 0x102030);
        PixelArray a = BufferedImages.toPixelArray(img, 0);
        assertEquals("yxc", a.axes());
        assertArrayEquals(new byte[] {0x10, 0x20, 0x30}, a.data());
    }
}
