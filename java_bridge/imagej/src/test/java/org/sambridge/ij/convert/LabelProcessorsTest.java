package org.sambridge.ij.convert;

import static org.junit.Assert.assertEquals;

import ij.ImagePlus;
import ij.process.ImageProcessor;
import ij.process.ShortProcessor;
import org.junit.Test;
import org.sambridge.client.LabelImage;
import org.sambridge.client.MaskCodec;
import org.sambridge.v1.DType;
import org.sambridge.v1.NDArray;

/** Label images to ImageJ processors and back: 16-bit when the labels fit, else 32-bit. */
public class LabelProcessorsTest {
    @Test
    public void labelsBeyond16BitsBecomeFloat() {
        NDArray array = MaskCodec.encodeLabels(new LabelImage(new int[] {0, 1, 70000, 2}, 1, 2, 2, "yx"), true);
        ImageProcessor ip = LabelProcessors.decode(array);
        assertEquals(32, ip.getBitDepth()); // 70000 does not fit 16 bits
        assertEquals(70000f, ip.getf(0, 1), 0f);
    }

    @Test
    public void smallLabelsAre16BitPerPlane() {
        int[] values = new int[2 * 3 * 4];
        for (int i = 0; i < values.length; i++) {
            values[i] = i % 5;
        }
        ImageProcessor plane = LabelProcessors.toProcessor(new LabelImage(values, 2, 3, 4, "zyx"), 1);
        assertEquals(16, plane.getBitDepth());
        assertEquals(values[12 + 5], plane.get(1, 1));
    }

    @Test
    public void labelProcessorRoundTrip() {
        ShortProcessor sp = new ShortProcessor(4, 3);
        sp.set(1, 1, 3);
        sp.set(3, 2, 65535);
        NDArray array = LabelProcessors.encode(sp, true);
        assertEquals(DType.UINT32, array.getDtype());
        ImageProcessor back = LabelProcessors.decode(array);
        assertEquals(3, back.get(1, 1));
        assertEquals(65535, back.get(3, 2));
    }

    @Test
    public void timeSeriesBecomesFrames() {
        ImagePlus imp = LabelProcessors.toImagePlus(new LabelImage(new int[] {1, 0, 0, 2, 3, 0}, 3, 1, 2, "tyx"), "t");
        assertEquals(3, imp.getNFrames());
        assertEquals(1, imp.getNSlices());
        assertEquals(3.0, imp.getDisplayRangeMax(), 0.0);
    }
}
