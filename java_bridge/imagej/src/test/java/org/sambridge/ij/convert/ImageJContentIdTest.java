package org.sambridge.ij.convert;

import static org.junit.Assert.assertEquals;

import ij.ImagePlus;
import ij.ImageStack;
import ij.process.ByteProcessor;
import ij.process.ShortProcessor;
import org.junit.Test;
import org.sambridge.client.PixelArray;

/** ImageJ images get the content ids of sambridge.wire.image_id (values computed with numpy). */
public class ImageJContentIdTest {
    @Test
    public void uint8StackMatchesPython() {
        // image_id(np.arange(8, dtype=np.uint8).reshape(2, 2, 2), "zyx")
        ImageStack stack = new ImageStack(2, 2);
        stack.addSlice(new ByteProcessor(2, 2, new byte[] {0, 1, 2, 3}));
        stack.addSlice(new ByteProcessor(2, 2, new byte[] {4, 5, 6, 7}));
        PixelArray a = ImageJArrays.fromImagePlus(new ImagePlus("s", stack), "z");
        assertEquals("zyx", a.axes());
        assertEquals("sha1:d3776ecd8e5e500ebdcf5a863f9859e47e228a34", a.contentId());
    }

    @Test
    public void imageJ16BitMatchesRawArray() {
        // image_id(np.array([[0,1,2],[300,65535,7]], np.uint16), "yx")
        ShortProcessor ip = new ShortProcessor(3, 2, new short[] {0, 1, 2, 300, (short) 65535, 7}, null);
        assertEquals("sha1:2acd2ce82128dc854bb37abf2490e60cec9a9cdc", ImageJArrays.fromProcessor(ip).contentId());
    }
}
