package org.sambridge.client;

import static org.junit.Assert.assertEquals;

import org.junit.Test;
import org.sambridge.v1.DType;

/** Content ids must equal sambridge.wire.image_id (values computed with numpy). */
public class ContentIdTest {
    @Test
    public void uint16MatchesPython() {
        // image_id(np.array([[0,1,2],[300,65535,7]], np.uint16), "yx")
        PixelArray a = PixelArray.ofUInt16(new short[] {0, 1, 2, 300, (short) 65535, 7}, "yx", 2, 3);
        assertEquals("sha1:2acd2ce82128dc854bb37abf2490e60cec9a9cdc", a.contentId());
    }

    @Test
    public void float32MatchesPython() {
        PixelArray a = PixelArray.ofFloat32(new float[] {0.5f, -1f, 3.25f, 1e6f}, "yx", 2, 2);
        assertEquals("sha1:05fa8ea0f033c412f75b9b6b72b64f922ec5a5bb", a.contentId());
    }

    @Test
    public void uint8StackMatchesPython() {
        // image_id(np.arange(8, dtype=np.uint8).reshape(2, 2, 2), "zyx")
        PixelArray a = PixelArray.ofUInt8(new byte[] {0, 1, 2, 3, 4, 5, 6, 7}, "zyx", 2, 2, 2);
        assertEquals("sha1:d3776ecd8e5e500ebdcf5a863f9859e47e228a34", a.contentId());
    }

    @Test
    public void headerText() {
        assertEquals("uint16|700,1100|yx|", ContentId.header(DType.UINT16, new long[] {700, 1100}, "yx"));
    }
}
