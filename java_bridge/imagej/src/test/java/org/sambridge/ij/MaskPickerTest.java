package org.sambridge.ij;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

/** mask=best|largest|smallest|0|1|2 picks the mask named. */
public class MaskPickerTest {
    private static final float[] SCORES = {0.71f, 0.93f, 0.52f};
    private static final long[] AREAS = {400, 150, 900};

    @Test
    public void picksByScoreAreaOrIndex() {
        assertEquals(1, MaskPicker.pick("best", SCORES, AREAS));
        assertEquals(2, MaskPicker.pick("largest", SCORES, AREAS));
        assertEquals(1, MaskPicker.pick("smallest", SCORES, AREAS));
        assertEquals(0, MaskPicker.pick("0", SCORES, AREAS));
        assertEquals(2, MaskPicker.pick("2", SCORES, AREAS));
        assertEquals(0, MaskPicker.pick("best", new float[] {0.8f}, new long[] {5}));
    }

    @Test
    public void refusesWhatIsNotThere() {
        for (String bad : new String[] {"3", "-1", "biggest"}) {
            try {
                MaskPicker.pick(bad, SCORES, AREAS);
                fail("picked " + bad);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains(bad.equals("biggest") ? "biggest" : "mask"));
            }
        }
        try {
            MaskPicker.pick("1", new float[] {0.8f}, new long[] {5});
            fail("index beyond a single mask");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("1 mask"));
        }
    }

    @Test
    public void onlyBestNeedsNoMultimaskAndTheLogShowsScores() {
        assertFalse(MaskPicker.needsMultimask("best"));
        assertTrue(MaskPicker.needsMultimask("largest"));
        assertTrue(MaskPicker.needsMultimask("0"));
        String text = MaskPicker.describe(SCORES, AREAS, 2);
        assertTrue(text, text.contains("mask 1: score 0.930, 150 px"));
        assertTrue(text, text.contains("mask 2: score 0.520, 900 px  <- kept"));
    }
}
