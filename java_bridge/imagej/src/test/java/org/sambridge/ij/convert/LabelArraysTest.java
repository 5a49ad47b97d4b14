package org.sambridge.ij.convert;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import ij.ImagePlus;
import ij.ImageStack;
import ij.gui.OvalRoi;
import ij.gui.PointRoi;
import ij.gui.Roi;
import ij.process.ShortProcessor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.Test;
import org.sambridge.client.PixelArray;
import org.sambridge.v1.DType;

/** ROIs painted into label planes (training labels from the ROI Manager); label stacks as uint32. */
public class LabelArraysTest {
    @Test
    public void roisBecomeLabelsOnTheirPlane() {
        Roi a = new Roi(0, 0, 4, 4);
        Roi b = new OvalRoi(10, 10, 6, 6);
        Roi point = new PointRoi(1, 1);
        ImagePlus labels = LabelArrays.paint(Arrays.asList(a, point, b), 20, 20, 3,
                roi -> roi == b ? 2 : 0);
        assertEquals(3, labels.getStackSize());
        for (int p = 1; p <= 3; p++) {
            assertEquals(1, labels.getStack().getProcessor(p).get(2, 2));
            assertEquals(p == 2 ? 2 : 0, labels.getStack().getProcessor(p).get(13, 13));
        }
        assertEquals(16, count(labels, 1, 1));
    }

    @Test
    public void stacksAreUInt32WithTheirAxis() {
        ImageStack stack = new ImageStack(2, 1);
        stack.addSlice(null, new ShortProcessor(2, 1, new short[] {0, 7}, null));
        stack.addSlice(null, new ShortProcessor(2, 1, new short[] {3, 0}, null));
        PixelArray array = LabelArrays.fromImagePlus(new ImagePlus("l", stack), "t");
        assertEquals(DType.UINT32, array.dtype());
        assertEquals("tyx", array.axes());
        assertArrayEquals(new long[] {2, 1, 2}, array.shape());
        int[] values = new int[4];
        ByteBuffer.wrap(array.data()).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(values);
        assertArrayEquals(new int[] {0, 7, 3, 0}, values);
        assertEquals("yx", LabelArrays.fromImagePlus(new ImagePlus("p", stack.getProcessor(1)), "t").axes());
    }

    private static int count(ImagePlus labels, int plane, int label) {
        int n = 0;
        ShortProcessor ip = (ShortProcessor) labels.getStack().getProcessor(plane);
        for (int i = 0; i < ip.getPixelCount(); i++) {
            n += ip.get(i) == label ? 1 : 0;
        }
        return n;
    }

    @Test
    public void aLabelHyperstackWithSlicesAndFramesGivesTheTimeSeriesOfTheSliceAsked() {
        ImageStack stack = new ImageStack(1, 1);
        for (int i = 1; i <= 6; i++) {
            stack.addSlice(null, new ShortProcessor(1, 1, new short[] {(short) i}, null));
        }
        ImagePlus labels = new ImagePlus("zt-labels", stack);
        labels.setDimensions(1, 2, 3);
        labels.setOpenAsHyperStack(true);
        PixelArray array = LabelArrays.fromImagePlus(labels, "t", 2, 1);
        assertEquals("tyx", array.axes());
        assertArrayEquals(new long[] {3, 1, 1}, array.shape());
        int[] values = new int[3];
        ByteBuffer.wrap(array.data()).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(values);
        assertArrayEquals("slice 2 of frames 1..3", new int[] {2, 4, 6}, values);
    }
}
