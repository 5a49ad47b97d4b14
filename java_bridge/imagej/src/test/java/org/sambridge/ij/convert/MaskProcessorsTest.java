package org.sambridge.ij.convert;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import ij.process.ByteProcessor;
import org.junit.Test;
import org.sambridge.client.MaskCodec;
import org.sambridge.v1.Mask;

/** Wire masks to ImageJ binary images and back, in numpy.packbits order. */
public class MaskProcessorsTest {
    @Test
    public void byteProcessorRoundTrip() {
        boolean[][] m = new boolean[3][5];
        m[0][0] = true;
        m[1][2] = true;
        m[2][4] = true;
        m[2][0] = true;
        ByteProcessor bp = MaskProcessors.toByteProcessor(MaskCodec.pack(m));
        assertEquals(255, bp.get(2, 1));
        assertEquals(0, bp.get(1, 1));
        Mask again = MaskProcessors.toMask(bp);
        assertArrayEquals(new byte[] {(byte) 0x81, 0x22}, again.getBits().toByteArray());
    }
}
