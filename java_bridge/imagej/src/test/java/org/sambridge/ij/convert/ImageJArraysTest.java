package org.sambridge.ij.convert;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import ij.ImagePlus;
import ij.ImageStack;
import ij.process.ColorProcessor;
import ij.process.FloatProcessor;
import ij.process.ShortProcessor;
import org.junit.Test;
import org.sambridge.client.PixelArray;
import org.sambridge.v1.DType;

/** ImageJ images become the right dtype, shape, axes and little-endian bytes. */
public class ImageJArraysTest {
    @Test
    public void shortIsLittleEndianUint16() {
        PixelArray a = ImageJArrays.fromProcessor(new ShortProcessor(2, 1, new short[] {0x0102, (short) 0xFFFE}, null));
        assertEquals(DType.UINT16, a.dtype());
        assertArrayEquals(new long[] {1, 2}, a.shape());
        assertArrayEquals(new byte[] {0x02, 0x01, (byte) 0xFE, (byte) 0xFF}, a.data());
    }

    @Test
    public void floatIsFloat32() {
        PixelArray a = ImageJArrays.fromProcessor(new FloatProcessor(1, 1, new float[] {1f}));
        assertEquals(DType.FLOAT32, a.dtype());
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3F}, a.data());
    }

    @Test
    public void rgbIsYxc() {
        ColorProcessor cp = new ColorProcessor(1, 1);
        cp.set(0, 0, 0x102030);
        PixelArray a = ImageJArrays.fromProcessor(cp);
        assertEquals("yxc", a.axes());
        assertArrayEquals(new long[] {1, 1, 3}, a.shape());
        assertArrayEquals(new byte[] {0x10, 0x20, 0x30}, a.data());
    }

    @Test
    public void timeSeriesIsTyx() {
        ImageStack stack = new ImageStack(2, 2);
        for (int i = 0; i < 3; i++) {
            stack.addSlice(new ShortProcessor(2, 2));
        }
        ImagePlus imp = new ImagePlus("t", stack);
        imp.setDimensions(1, 1, 3);
        PixelArray a = ImageJArrays.fromImagePlus(imp, "t");
        assertEquals("tyx", a.axes());
        assertArrayEquals(new long[] {3, 2, 2}, a.shape());
    }

    /** Slices x frames hyperstack; plane (z, t) holds the value of its stack index. */
    private static ImagePlus hyperstack(int nz, int nt) {
        ImageStack stack = new ImageStack(2, 1);
        for (int i = 1; i <= nz * nt; i++) {
            stack.addSlice(null, new ShortProcessor(2, 1, new short[] {(short) i, (short) i}, null));
        }
        ImagePlus imp = new ImagePlus("zt", stack);
        imp.setDimensions(1, nz, nt);
        imp.setOpenAsHyperStack(true);
        return imp;
    }

    private static int[] firstValues(PixelArray a) {
        int planes = (int) a.shape()[0];
        int[] values = new int[planes];
        for (int p = 0; p < planes; p++) {
            values[p] = (a.data()[p * 4] & 0xFF) | (a.data()[p * 4 + 1] & 0xFF) << 8;
        }
        return values;
    }

    @Test
    public void aHyperstackWithSlicesAndFramesGivesTheTimeSeriesOfTheDisplayedSliceOrTheZStackOfTheDisplayedFrame() {
        ImagePlus imp = hyperstack(2, 3);
        imp.setPosition(1, 2, 3);
        PixelArray t = ImageJArrays.fromImagePlus(imp, "t");
        assertEquals("tyx", t.axes());
        assertArrayEquals(new long[] {3, 1, 2}, t.shape());
        assertArrayEquals("slice 2 of frames 1..3", new int[] {2, 4, 6}, firstValues(t));
        PixelArray z = ImageJArrays.fromImagePlus(imp, "z");
        assertEquals("zyx", z.axes());
        assertArrayEquals("slices 1..2 of frame 3", new int[] {5, 6}, firstValues(z));
    }

    @Test
    public void aPlainStackIsTakenAsTheAxisAsked() {
        ImagePlus imp = hyperstack(4, 1);
        imp.setOpenAsHyperStack(false);
        PixelArray t = ImageJArrays.fromImagePlus(imp, "t");
        assertEquals("tyx", t.axes());
        assertArrayEquals(new int[] {1, 2, 3, 4}, firstValues(t));
    }
}
