package org.sambridge.ij.convert;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import ij.gui.Roi;
import java.util.List;
import org.junit.Test;
import org.sambridge.client.Fixtures;
import org.sambridge.client.LabelImage;

/** Masks and label images become ROIs with holes and all parts, areas exact. */
public class RoiConverterTest {
    @Test
    public void maskWithHoleAndTwoParts() {
        Roi roi = RoiConverter.maskToRoi(Fixtures.twoPartsWithHole());
        assertEquals(Fixtures.HOLED_AREA + Fixtures.SMALL_AREA, RoiConverter.pixelCount(roi));
        assertTrue(roi.contains(1, 1));
        assertFalse("hole must be outside", roi.contains(4, 4));
        assertTrue("second part kept", roi.contains(13, 3));
        assertEquals(1, roi.getBounds().x);
        assertEquals(14 - 1 + 1, roi.getBounds().width);
    }

    @Test
    public void labelImageGivesOneRoiPerLabelAtTheRightPlace() {
        List<Roi> rois = RoiConverter.labelsToRois(Fixtures.labels(), 0);
        assertEquals(2, rois.size());
        assertEquals("SAM-0001", rois.get(0).getName());
        assertEquals(Fixtures.HOLED_AREA + Fixtures.SMALL_AREA, RoiConverter.pixelCount(rois.get(0)));
        assertFalse(rois.get(0).contains(4, 4));
        Roi second = rois.get(1);
        assertEquals(9, RoiConverter.pixelCount(second));
        assertEquals(16, second.getBounds().x);
        assertEquals(8, second.getBounds().y);
        assertTrue(second.contains(17, 9));
    }

    @Test
    public void stackLabelsGetPositions() {
        int[] values = new int[2 * 3 * 3];
        values[9 + 4] = 5; // plane 1, centre pixel
        List<Roi> rois = RoiConverter.labelsToRois(new LabelImage(values, 2, 3, 3, "zyx"));
        assertEquals(1, rois.size());
        assertEquals(2, rois.get(0).getPosition());
        assertEquals(1, RoiConverter.pixelCount(rois.get(0)));
    }

    @Test
    public void emptyMaskGivesNull() {
        assertNull(RoiConverter.maskToRoi(new boolean[3][3]));
    }
}
