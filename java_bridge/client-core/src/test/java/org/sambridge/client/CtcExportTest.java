package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.util.Arrays;
import org.junit.Test;
import org.sambridge.v1.Track;

/** res_track.txt lines and mask names of the Cell Tracking Challenge format. */
public class CtcExportTest {
    @Test
    public void linesAreLabelBeginEndParent() {
        Track a = Track.newBuilder().setId(1).setBegin(0).setEnd(4).build();
        Track b = Track.newBuilder().setId(2).setBegin(5).setEnd(9).setParent(1).build();
        assertEquals(Arrays.asList("1 0 4 0", "2 5 9 1"), CtcExport.trackLines(Arrays.asList(a, b)));
    }

    @Test
    public void maskNamesHaveThreeDigitsUpToAThousandFrames() {
        assertEquals("mask000.tif", CtcExport.maskName(0, 3));
        assertEquals("mask042.tif", CtcExport.maskName(42, 1000));
        assertEquals("mask0042.tif", CtcExport.maskName(42, 1001));
    }

    @Test
    public void labelsBeyondSixteenBitsAreRefused() {
        CtcExport.requireSixteenBit(new LabelImage(new int[] {0, 65535}, 1, 1, 2, "yx"));
        try {
            CtcExport.requireSixteenBit(new LabelImage(new int[] {0, 65536}, 1, 1, 2, "yx"));
            fail("65536 accepted");
        } catch (IllegalArgumentException e) {
            assertEquals("label 65536 does not fit a 16-bit CTC mask", e.getMessage());
        }
    }
}
